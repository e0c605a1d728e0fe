#!/usr/bin/env bash
# Quantizes real pretrained ONNX models from PyPI wheels (ddddocr 1.6.1, silero-vad 6.2.3; not
# bundled) with each calibr8 method and scores each QDQ export against its fp32 original in
# ONNX Runtime (eval_models.py). Setup, once:
#   pip download --no-deps ddddocr==1.6.1 silero-vad==6.2.3 -d /tmp/wheels
#   mkdir -p models && for w in /tmp/wheels/*.whl; do unzip -q -o $w -d models/$(basename $w .whl); done
#   python3 inline_16k.py $V/silero_vad_op18_ifless.onnx models/silero_vad_op18_16k_inlined.onnx
#   python3 uniquify_names.py $V/silero_vad_openvino_16k.onnx models/silero_vad_openvino_16k_renamed.onnx
#   python3 make_data.py $D $V/silero_vad.onnx $V/silero_vad_openvino_16k.onnx \
#       $V/silero_vad_16k_sequence.onnx models/silero_vad_op18_16k_inlined.onnx
# usage: measure.sh [MODEL_NAME...]  (default: all below); METHODS="auto minmax ..." to choose
set -u
cd "$(dirname "$0")"
BIN=${BIN:-../../../target/release/calibr8}
D=${D:-/tmp/rm_data2}
RUNS=${RUNS:-/tmp/rm_runs}
METHODS=${METHODS:-auto entropy minmax percentile mse}
O=models/ddddocr-1.6.1-py3-none-any/ddddocr
V=models/silero_vad-6.2.3-py3-none-any/silero_vad/data
WANT=${*:-all}
mkdir -p "$RUNS"
while read -r name path kind calib batch; do
  case " $WANT " in *" all "*|*" $name "*) ;; *) continue;; esac
  for method in $METHODS; do
    out="$RUNS/$name/$method"; mkdir -p "$RUNS/$name"
    bflag=""; [ "$batch" != - ] && bflag="--batch $batch"
    /usr/bin/time -f "%e %M" -o "$out.time" "$BIN" quantize "$path" --calib "$D/$calib" $bflag \
        --method "$method" ${CALIBR8_FLAGS:-} --out "$out" > "$out.stdout" 2> "$out.log"
    rc=$?
    read -r secs rss < <(tail -1 "$out.time")
    if [ $rc = 0 ]; then
      res=$(python3 eval_models.py "$path" "$out/model.qdq.onnx" "$kind" "$D/${kind}_eval.np"* 2>/dev/null)
      echo "{\"model\": \"$name\", \"method\": \"$method\", \"seconds\": $secs, \"peak_rss_kb\": $rss, \"result\": $res}" | tee -a "$RUNS/results.jsonl"
    else
      err=$(grep -v onnxruntime "$out.log" | grep -A3 "calibr8 failed" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
      echo "{\"model\": \"$name\", \"method\": \"$method\", \"seconds\": $secs, \"rc\": $rc, \"error\": $err}" | tee -a "$RUNS/results.jsonl"
    fi
  done
done <<MODELS
ddddocr_ocr $O/common.onnx ocr ocr_calib.npy 1
ddddocr_det $O/common_det.onnx det det_calib.npy 1
silero_vad_openvino_16k $V/silero_vad_openvino_16k.onnx vad vad_calib_silero_vad_openvino_16k 1
silero_vad_16k_sequence $V/silero_vad_16k_sequence.onnx vad vad_calib_silero_vad_16k_sequence -
silero_vad_op18_16k_inlined models/silero_vad_op18_16k_inlined.onnx vad vad_calib_silero_vad_op18_16k_inlined -
silero_vad_openvino_16k_renamed models/silero_vad_openvino_16k_renamed.onnx vad vad_calib_silero_vad_openvino_16k 1
silero_vad $V/silero_vad.onnx vad vad_calib_silero_vad -
silero_vad_op18_ifless $V/silero_vad_op18_ifless.onnx vad vad_calib_silero_vad -
silero_vad_16k_op15 $V/silero_vad_16k_op15.onnx vad vad_calib_silero_vad -
ddddocr_ocr_old $O/common_old.onnx ocr ocr_calib.npy 1
MODELS
