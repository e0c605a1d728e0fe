#!/usr/bin/env bash
# Compile-checks calibr8's TensorRT shim against real TensorRT 10 headers, then builds and tests
# calibr8-tensorrt-sys with the shim compiled in. Needs no TensorRT library and no GPU: the shim
# never links against TensorRT (the library is opened at run time), and this script checks that.
#
# Usage: scripts/check-tensorrt-shim.sh [--no-cargo]
#
# Headers (never committed; third_party/ is git-ignored):
#   third_party/tensorrt/include  the `include/` folder of the public NVIDIA/TensorRT repository
#                                 (GitHub, Apache-2.0) at a 10.x tag, e.g. v10.16, which also
#                                 ships NvOnnxParser.h (older tags keep it under parsers/onnx/,
#                                 a submodule: copy it beside NvInfer.h):
#                                   git clone --depth 1 --branch v10.16 <NVIDIA/TensorRT> /tmp/trt
#                                   mkdir -p third_party/tensorrt && cp -r /tmp/trt/include third_party/tensorrt/
#   third_party/cuda/include      CUDA's runtime headers (cuda_runtime_api.h and what it includes),
#                                 from two PyPI wheels:
#                                   pip download --no-deps nvidia-cuda-runtime==13.0.96 \
#                                       nvidia-cuda-crt==13.0.88 -d /tmp/cudawheels
#                                   for w in /tmp/cudawheels/*.whl; do unzip -qo "$w" -d /tmp/cudawheels/x; done
#                                   mkdir -p third_party/cuda && cp -r /tmp/cudawheels/x/nvidia/cu13/include third_party/cuda/
# TENSORRT_INCLUDE_DIR and CUDA_PATH override these folders (as for the crate's build script).
#
# Exit status: 0 all checks passed, 1 a check failed, 2 headers missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$root/backends/tensorrt-sys"
shim="$crate/shim"
trt_include="${TENSORRT_INCLUDE_DIR:-$root/third_party/tensorrt/include}"
cuda_root="${CUDA_PATH:-$root/third_party/cuda}"
cuda_include="$cuda_root/include"
cxx="${CXX:-g++}"
cc="${CC:-gcc}"
run_cargo=1
[[ "${1:-}" == "--no-cargo" ]] && run_cargo=0

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

missing=0
for f in "$trt_include/NvInfer.h" "$trt_include/NvOnnxParser.h" "$cuda_include/cuda_runtime_api.h"; do
    if [[ ! -f "$f" ]]; then
        printf 'missing header: %s\n' "$f" >&2
        missing=1
    fi
done
if [[ $missing == 1 ]]; then
    printf 'Get the headers as the comment at the top of %s says, or set TENSORRT_INCLUDE_DIR and CUDA_PATH.\n' \
        "scripts/check-tensorrt-shim.sh" >&2
    exit 2
fi

version() { sed -n "s/^#define TRT_$1_ENTERPRISE \([0-9]*\).*/\1/p; s/^#define NV_TENSORRT_$1 \([0-9][0-9]*\).*/\1/p" \
    "$trt_include/NvInferVersion.h" | head -n1; }
step "headers: TensorRT $(version MAJOR).$(version MINOR).$(version PATCH) in $trt_include; CUDA in $cuda_include"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

step "C header is valid C99: $cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only"
"$cc" -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c "$shim/calibr8_trt_shim.h" \
    || fail "calibr8_trt_shim.h is not valid C"

# Strict: no -Wno-error at all. Deprecated TensorRT calls the shim makes on purpose are fenced
# with pragmas; any other deprecation (a newer header) fails here first. Third-party headers are
# -isystem: they trip -Wextra themselves.
cxxflags=(-std=c++17 -Wall -Wextra -Werror -fPIC -isystem "$trt_include" -isystem "$cuda_include" -I "$shim")
step "compile the shim: $cxx ${cxxflags[*]} -c calibr8_trt_shim.cpp"
"$cxx" "${cxxflags[@]}" -c "$shim/calibr8_trt_shim.cpp" -o "$tmp/shim.o" || fail "the shim does not compile"

step "no link-time dependency on TensorRT or CUDA"
if nm -C "$tmp/shim.o" | grep ' U ' | grep -Ei 'nvinfer|nvonnxparser|cuda|createInfer|getInferLibVersion'; then
    fail "the shim object needs the symbols above at link time"
fi
echo "ok: undefined symbols are the C++ runtime's only"

step "every function the header declares is defined"
grep -o 'calibr8_trt_[a-z0-9_]*(' "$shim/calibr8_trt_shim.h" | tr -d '(' | sort -u >"$tmp/declared"
nm "$tmp/shim.o" | awk '$2 == "T" && $3 ~ /^calibr8_trt_/ {print $3}' | sort -u >"$tmp/defined"
if ! diff "$tmp/declared" "$tmp/defined"; then
    fail "declared (<) and defined (>) functions differ"
fi
echo "ok: $(wc -l <"$tmp/defined") functions"

if [[ $run_cargo == 1 ]]; then
    export TENSORRT_INCLUDE_DIR="$trt_include" CUDA_PATH="$cuda_root" CALIBR8_TENSORRT_REQUIRE_SHIM=1
    step "cargo build -p calibr8-tensorrt-sys --features shim (CALIBR8_TENSORRT_REQUIRE_SHIM=1)"
    (cd "$root" && cargo build -p calibr8-tensorrt-sys --features shim) || fail "cargo build"
    step "cargo test -p calibr8-tensorrt-sys --features shim"
    (cd "$root" && cargo test -p calibr8-tensorrt-sys --features shim) || fail "cargo test"
fi

step "all TensorRT shim checks passed"
