#!/usr/bin/env bash
# Quantizes the PaddleOCR models of the rapidocr wheels with every method and evaluates each
# exported QDQ model against fp32 with ONNX Runtime (scripts/real_models/eval_ocr.py).
# Models and data live in git-ignored folders; nothing here is bundled:
#   pip download --no-deps rapidocr_onnxruntime rapidocr -d /out/models   (then unzip both)
#   python3 scripts/real_models/make_ocr_data.py /out/models/data
# usage: measure.sh [METHOD...]   (default: minmax ema percentile entropy mse auto)
# Extra calibr8 flags via CALIBR8_FLAGS (e.g. --no-fold-batchnorm --per-tensor-weights).
set -u
BIN=${BIN:-target/release/calibr8}
M1=${M1:-/out/models/rapidocr_onnxruntime/rapidocr_onnxruntime/models}
M2=${M2:-/out/models/rapidocr/rapidocr/models}
D=${D:-/out/models/data}
RUNS=${RUNS:-/out/runs}
METHODS=${*:-minmax ema percentile entropy mse auto}
mkdir -p "$RUNS"
while read -r name path kind batch; do
  for method in $METHODS; do
    out="$RUNS/$name${TAG:-}/$method"; mkdir -p "$RUNS/$name${TAG:-}"
    start=$(date +%s)
    if "$BIN" quantize "$path" --calib "$D/${kind}_calib.npy" --batch "$batch" --method "$method" \
        ${CALIBR8_FLAGS:-} --out "$out" --quiet 2> "$out.log"; then
      labels=""; [ "$kind" = cls ] && labels="$D/cls_eval_labels.npy"
      res=$(python3 scripts/real_models/eval_ocr.py "$path" "$out/model.qdq.onnx" "$kind" "$D/${kind}_eval.npy" $labels)
      echo "{\"model\": \"$name\", \"method\": \"$method\", \"flags\": \"${CALIBR8_FLAGS:-}\", \"seconds\": $(( $(date +%s) - start )), \"result\": $res}" | tee -a "$RUNS/results.jsonl"
    else
      echo "{\"model\": \"$name\", \"method\": \"$method\", \"error\": $(tail -3 "$out.log" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}" | tee -a "$RUNS/results.jsonl"
    fi
  done
done <<MODELS
ppocrv4_det $M1/ch_PP-OCRv4_det_infer.onnx det 8
ppocrv4_rec $M1/ch_PP-OCRv4_rec_infer.onnx rec 32
ppocr_cls $M1/ch_ppocr_mobile_v2.0_cls_infer.onnx cls 32
ppocrv6_det_small $M2/PP-OCRv6_det_small.onnx det 8
ppocrv6_rec_small $M2/PP-OCRv6_rec_small.onnx rec 32
MODELS
