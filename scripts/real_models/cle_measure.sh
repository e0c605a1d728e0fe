#!/usr/bin/env bash
# Cross-layer equalization and bias correction, evaluated (issue 11): each model quantized by
# calibr8 as shipped and with --equalize, with per-tensor and per-channel weights, with and
# without --bias-correction, scored against the original fp32 model by eval_ocr.py in ONNX
# Runtime. cle_eval.py, an independent Python implementation, checks first that equalizing keeps
# the float outputs (calibr8 with --equalize matched its exports exactly at the same round count).
# Models and data as in measure.sh.
# usage: [ORT_OPT=disable] [REUSE=1] cle_measure.sh  (BIN, M1, D, OUT as in measure.sh; REUSE=1
# scores the exports already in OUT without quantizing again; ORT_OPT as in eval_ocr.py)
set -u
BIN=${BIN:-target/release/calibr8}
M1=${M1:-/out/models/rapidocr_onnxruntime/rapidocr_onnxruntime/models}
D=${D:-/out/models/data}
OUT=${OUT:-/out/cle}
mkdir -p "$OUT"
while read -r name file kind batch; do
  [ "${REUSE:-0}" = 1 ] || python3 scripts/real_models/cle_eval.py "$M1/$file" "$OUT/${name}_cle.onnx" \
      --check "$D/${kind}_eval.npy" 2>&1 | tail -2
  labels=""; [ "$kind" = cls ] && labels="$D/cls_eval_labels.npy"
  for model in shipped cle; do
    path="$M1/$file"; eq=""; [ $model = cle ] && eq="--equalize"
    for weights in per-tensor per-channel; do
      flags=""; [ $weights = per-tensor ] && flags="--per-tensor-weights"
      for method in minmax mse; do
       for bc in "" --bias-correction; do
        out="$OUT/$name/$model-$weights-$method$bc"
        if [ "${REUSE:-0}" != 1 ]; then
          "$BIN" quantize "$path" --calib "$D/${kind}_calib.npy" --batch "$batch" --method $method $flags $eq $bc \
              --out "$out" --quiet > /dev/null 2>&1 || { echo "$name $model $weights $method $bc FAILED"; continue; }
        fi
        corrected=false; [ -n "$bc" ] && corrected=true
        echo "{\"model\": \"$name\", \"variant\": \"$model\", \"weights\": \"$weights\", \"method\": \"$method\", \"bias_correction\": $corrected, \"ort_opt\": \"${ORT_OPT:-all}\", \"result\": $(python3 scripts/real_models/eval_ocr.py "$M1/$file" "$out/model.qdq.onnx" $kind "$D/${kind}_eval.npy" $labels)}"
       done
      done
    done
  done
done <<MODELS
ppocr_cls ch_ppocr_mobile_v2.0_cls_infer.onnx cls 32
ppocrv4_det ch_PP-OCRv4_det_infer.onnx det 8
MODELS
