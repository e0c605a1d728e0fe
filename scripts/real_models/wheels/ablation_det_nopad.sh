#!/usr/bin/env bash
# Detector entropy collapse: calibrate on square pictures only (no letterbox padding), evaluate on
# the same det_eval.npy as measure.sh (41% padding). Appends to $RUNS/results.jsonl as ddddocr_det_nopad_calib.
set -u
cd "$(dirname "$0")"
BIN=${BIN:-../../../target/release/calibr8}; D=${D:-/tmp/rm_data2}; RUNS=${RUNS:-/tmp/rm_runs}
O=models/ddddocr-1.6.1-py3-none-any/ddddocr
[ -f "$D/det_calib_nopad.npy" ] || python3 det_nopad_check.py "$D/det_calib_nopad.npy"
for method in ${METHODS:-entropy}; do
  out=$RUNS/ddddocr_det_nopad_calib/$method; mkdir -p "$(dirname "$out")"
  /usr/bin/time -f "%e %M" -o "$out.time" "$BIN" quantize $O/common_det.onnx --calib "$D/det_calib_nopad.npy" \
      --batch 1 --method $method --out "$out" > "$out.stdout" 2> "$out.log"
  read -r secs rss < <(tail -1 "$out.time")
  res=$(python3 eval_models.py $O/common_det.onnx "$out/model.qdq.onnx" det "$D/det_eval.npy" 2>/dev/null)
  echo "{\"model\": \"ddddocr_det_nopad_calib\", \"method\": \"$method\", \"seconds\": $secs, \"peak_rss_kb\": $rss, \"result\": $res}" | tee -a "$RUNS/results.jsonl"
done
