#!/usr/bin/env bash
# Regenerates core/src/pb/onnx.rs from the onnx.proto shipped in the `onnx` Python wheel.
# The wheel goes to the git-ignored third_party/ folder; nothing here is a workspace member.
# Usage: scripts/gen_onnx_proto/gen.sh [onnx version]   (default: the version the committed file came from)
set -euo pipefail
ONNX_VERSION="${1:-1.23.2}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WHEEL_DIR="$ROOT/third_party/onnx-wheel-$ONNX_VERSION"
mkdir -p "$WHEEL_DIR"
if [ ! -f "$WHEEL_DIR/onnx/onnx.proto" ]; then
    python3 -m pip download --no-deps --only-binary=:all: "onnx==$ONNX_VERSION" -d "$WHEEL_DIR"
    python3 - "$WHEEL_DIR" <<'PY'
import glob, sys, zipfile
folder = sys.argv[1]
zipfile.ZipFile(glob.glob(f"{folder}/onnx-*.whl")[0]).extract("onnx/onnx.proto", folder)
PY
fi
cargo run --release --manifest-path "$HERE/Cargo.toml" --target-dir "$ROOT/target/gen_onnx_proto" -- \
    "$WHEEL_DIR/onnx/onnx.proto" "$ONNX_VERSION" "$ROOT/core/src/pb/onnx.rs"
rustfmt --edition 2021 "$ROOT/core/src/pb/onnx.rs"
