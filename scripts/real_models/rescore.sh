#!/usr/bin/env bash
# Re-scores the exports measure.sh left in RUNS without calibrating again, e.g. with ONNX Runtime
# running every Q/DQ as written (ORT_OPT=disable, the exact int8 semantics calibr8 simulates and
# TensorRT computes) instead of fusing them into its CPU int8 kernels, which saturate on CPUs
# without VNNI. Appends one JSON line per export to RUNS/results-ORT_OPT.jsonl.
# usage: ORT_OPT=disable rescore.sh [METHOD...]   (M1, M2, D, RUNS as in measure.sh)
set -u
M1=${M1:-/out/models/rapidocr_onnxruntime/rapidocr_onnxruntime/models}
M2=${M2:-/out/models/rapidocr/rapidocr/models}
D=${D:-/out/models/data}
RUNS=${RUNS:-/out/runs}
METHODS=${*:-minmax ema percentile entropy mse auto}
export ORT_OPT=${ORT_OPT:-disable}
while read -r name path kind; do
  for method in $METHODS; do
    export_path="$RUNS/$name${TAG:-}/$method/model.qdq.onnx"
    [ -f "$export_path" ] || continue
    labels=""; [ "$kind" = cls ] && labels="$D/cls_eval_labels.npy"
    res=$(python3 scripts/real_models/eval_ocr.py "$path" "$export_path" "$kind" "$D/${kind}_eval.npy" $labels)
    echo "{\"model\": \"$name\", \"method\": \"$method\", \"ort_opt\": \"$ORT_OPT\", \"result\": $res}" | tee -a "$RUNS/results-$ORT_OPT.jsonl"
  done
done <<MODELS
ppocrv4_det $M1/ch_PP-OCRv4_det_infer.onnx det
ppocrv4_rec $M1/ch_PP-OCRv4_rec_infer.onnx rec
ppocr_cls $M1/ch_ppocr_mobile_v2.0_cls_infer.onnx cls
ppocrv6_det_small $M2/PP-OCRv6_det_small.onnx det
ppocrv6_rec_small $M2/PP-OCRv6_rec_small.onnx rec
MODELS
