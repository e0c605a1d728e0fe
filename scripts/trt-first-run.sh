#!/usr/bin/env bash
# The first run of calibr8 on a machine with TensorRT 10 and an NVIDIA GPU, in one command.
# Paste its whole output (also saved to target/trt-first-run/log.txt) into an issue.
#
#   TENSORRT_ROOT=/opt/TensorRT-10.x CUDA_PATH=/usr/local/cuda scripts/trt-first-run.sh
#
# TENSORRT_ROOT (or TENSORRT_INCLUDE_DIR) must hold the headers of the TensorRT you run: the shim
# is compiled against them and refuses an older library. CUDA_PATH must hold cuda_runtime_api.h.
# Steps: the machine (driver, GPU, libraries), the GPU tests of calibr8-tensorrt (--ignored),
# the generated ResNet18 (python3 with numpy and onnx), then the `trt_first_run` example: the
# digits CNN and ResNet18 calibrated on tract, built in both int8 modes (implicit
# setDynamicRange and explicit Q/DQ), run, compared with tract layer by layer, with the
# per-layer precision dump of every engine. Exit status: 0 all passed, 1 something failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/target/trt-first-run"
mkdir -p "$out"
log="$out/log.txt"

{
    echo "== machine"
    uname -srm
    git log -1 --format='calibr8 %H %s' 2>/dev/null || true
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 || echo "nvidia-smi failed"
    nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' || true
    echo "TENSORRT_ROOT=${TENSORRT_ROOT:-} TENSORRT_INCLUDE_DIR=${TENSORRT_INCLUDE_DIR:-} CUDA_PATH=${CUDA_PATH:-}"
    echo "CALIBR8_TENSORRT_LIB=${CALIBR8_TENSORRT_LIB:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    ls "${TENSORRT_ROOT:-/nonexistent}"/lib/libnvinfer* 2>/dev/null || true

    status=0
    export CALIBR8_TENSORRT_REQUIRE_SHIM=1
    echo; echo "== GPU tests (cargo test --release -p calibr8-tensorrt --features shim -- --ignored)"
    cargo test --release -p calibr8-tensorrt --features shim -- --include-ignored \
        > "$out/tests.txt" 2>&1 || status=1
    grep -E '^(test |test result|error)|panicked|warning: calibr8' "$out/tests.txt"

    if [[ ! -f target/examples/resnet18.onnx ]]; then
        echo; echo "== generating ResNet18 (examples/tensorrt_resnet18/make_resnet18.py)"
        python3 examples/tensorrt_resnet18/make_resnet18.py || status=1
    fi

    echo; echo "== first run"
    cargo run --release -q -p calibr8-tensorrt --features shim --example trt_first_run -- \
        --out "$out" "$@" || status=1
    echo; echo "== exit status $status"
    exit $status
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
