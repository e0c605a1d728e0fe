#!/bin/sh
# CPU preset latency against fp32 and ONNX Runtime's own quantize_static (issue 13's benchmark):
# calibr8 quantizes MODEL with each preset (minmax, batch 32), then scripts/ort_cpu_bench.py times
# every model with ONNX Runtime on 1 thread and on all, and reports the int8 kernels ONNX Runtime
# fused and the SQNR against fp32.
#
#   benches/vs_ort/cpu_preset.sh CALIBR8 MODEL.onnx CALIB.npy OUT [RUNS]
set -eu
calibr8=$1 model=$2 calib=$3 out=$4 runs=${5:-20}
mkdir -p "$out"
for preset in tensorrt cpu cpu-avx2; do
    "$calibr8" quantize "$model" --calib "$calib" --preset "$preset" --method minmax \
        --batch 32 --no-nni-outputs --out "$out/$preset" --quiet > /dev/null
done
python3 "$(dirname "$0")/../../scripts/ort_cpu_bench.py" "$model" "$calib" \
    --qdq "calibr8-tensorrt-preset=$out/tensorrt/model.qdq.onnx" \
    --qdq "calibr8-cpu-preset=$out/cpu/model.qdq.onnx" \
    --qdq "calibr8-cpu-avx2-preset=$out/cpu-avx2/model.qdq.onnx" \
    --threads 1,0 --runs "$runs" --out "$out/ort"
