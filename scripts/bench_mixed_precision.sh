#!/usr/bin/env bash
# Times `calibr8 compare`'s per-layer analysis and mixed-precision search on the generated
# ResNet18 (examples/tensorrt_resnet18/make_resnet18.py), for one or more calibr8 binaries run
# one after the other (e.g. a build of main and a build of this branch), and checks that their
# reports are identical.
#
#   python3 examples/tensorrt_resnet18/make_resnet18.py
#   scripts/bench_mixed_precision.sh /path/to/calibr8-main target/release/calibr8
#
# Prints, per binary: wall time of the whole command, CPU time (user + sys), and the wall time
# of the per-layer stage and of the mixed-precision stage (from the stage lines on stderr).
#
# Scenarios (SCENARIO=...):
#   sqnr   (default) evaluation on the 256 calibration inputs, target SQNR ≥ 60 dB with at most
#          8 layers in float: out of reach on purpose, so every run takes the same 8 steps;
#   top1   128 held-out inputs (resnet18_eval.npy, written here with the example's generator,
#          seed + 2), --target-top1-drop 0: the search of the README (11 steps).
# Extra arguments for compare: COMPARE_ARGS="...".
set -euo pipefail
MODEL=${MODEL:-target/examples/resnet18.onnx}
DATA=${DATA:-target/examples/resnet18_calib.npy}
OUT=${OUT:-target/bench_mixed}
case "${SCENARIO:-sqnr}" in
  sqnr) EVAL=$DATA; TARGET=(--target-sqnr 60 --max-float-layers 8) ;;
  top1)
    EVAL=target/examples/resnet18_eval.npy
    [ -f "$EVAL" ] || python3 -c '
import sys, numpy as np
sys.path.insert(0, "examples/tensorrt_resnet18")
import make_resnet18 as m
np.save(sys.argv[1], m.calibration_images(np.random.default_rng(m.SEED + 2), 128))
' "$EVAL"
    TARGET=(--target-top1-drop 0) ;;
  *) echo "SCENARIO is sqnr or top1" >&2; exit 2 ;;
esac
[ -f "$MODEL" ] || { echo "no $MODEL: run python3 examples/tensorrt_resnet18/make_resnet18.py" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: $0 CALIBR8_BINARY..." >&2; exit 2; }
mkdir -p "$OUT"
echo "scenario ${SCENARIO:-sqnr}: compare --eval $EVAL --method minmax ${TARGET[*]}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-40s %9s %9s %11s %11s\n' binary "wall (s)" "cpu (s)" "per-layer" "mixed"
ix=0
for bin in "$@"; do
  ix=$((ix + 1))
  dir="$OUT/run$ix"
  rm -rf "$dir"
  log="$OUT/run$ix.log"
  # shellcheck disable=SC2086
  /usr/bin/time -f "TIME %e %U %S" "$bin" compare "$MODEL" --calib "$DATA" --eval "$EVAL" \
    --method minmax "${TARGET[@]}" --out "$dir" ${COMPARE_ARGS:-} \
    2>&1 | python3 -u -c '
import sys, time
t0 = time.time()
for line in sys.stdin:
    sys.stdout.write(f"{time.time() - t0:.1f} {line}")
' > "$log" || true
  python3 - "$bin" "$log" <<'EOF'
import sys
bin, log = sys.argv[1], sys.argv[2]
stamps, wall, cpu = {}, None, None
for line in open(log, encoding="utf-8", errors="replace"):
    t, _, text = line.partition(" ")
    if text.startswith("per-layer analysis"):
        stamps["layers"] = float(t)
    elif text.startswith("mixed precision, target"):
        stamps["mixed"] = float(t)
    elif text.startswith("compared "):
        stamps["end"] = float(t)
    elif text.startswith("TIME "):
        _, w, u, s = text.split()
        wall, cpu = float(w), float(u) + float(s)
layers = stamps["mixed"] - stamps["layers"]
mixed = stamps["end"] - stamps["mixed"]
print(f"{bin:<40} {wall:9.1f} {cpu:9.1f} {layers:11.1f} {mixed:11.1f}")
EOF
done
if [ $ix -ge 2 ]; then
  python3 - "$OUT" $ix <<'EOF'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
reports = [json.load(open(f"{out}/run{i}/report.json")) for i in range(1, n + 1)]
same = all(r == reports[0] for r in reports[1:])
print("reports identical:" , same)
sys.exit(0 if same else 1)
EOF
fi
