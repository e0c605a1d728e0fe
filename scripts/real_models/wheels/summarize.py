#!/usr/bin/env python3
"""results.jsonl (measure.sh) -> Markdown tables: one metric per model and method, auto's gap to the
best single method, and the calibr8 errors. usage: summarize.py RESULTS.jsonl > results.md"""
import json
import sys

METRIC = {"ocr": ("exact_strings", "char_agreement"), "det": ("box_f1", "score_map_iou"),
          "vad": ("decision_agreement", "mean_abs_prob_diff")}
METHODS = ["minmax", "entropy", "percentile", "mse", "auto"]
rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        rows.setdefault(r["model"], {})[r["method"]] = r  # last run wins

print("| model | metric | " + " | ".join(METHODS) + " | best single | auto − best |")
print("|---|---|" + "---|" * (len(METHODS) + 2))
errors = []
for model, by in rows.items():
    ok = {m: r for m, r in by.items() if "result" in r}
    if not ok:
        errors.append((model, next(iter(by.values()))["error"].strip()))
        continue
    kind = next(iter(ok.values()))["result"]["kind"]
    for k, key in enumerate(METRIC[kind] + ("sqnr_db",)):
        lower = key == "mean_abs_prob_diff"
        vals = {m: ok[m]["result"][key] for m in METHODS if m in ok}
        single = {m: v for m, v in vals.items() if m != "auto"}
        best = (min if lower else max)(single, key=single.get) if single else None
        cells = [f"{vals[m]:.4g}" if m in vals else "–" for m in METHODS]
        gap = ""
        if best and "auto" in vals:
            gap = f"{(vals['auto'] - single[best]) * (-1 if lower else 1):+.4f}"
        print(f"| {model if k == 0 else ''} | {key}{' (lower better)' if lower else ''} | "
              + " | ".join(cells) + f" | {best} {single.get(best, ''):.4g} | {gap} |" if best else "")
    print(f"| | calibration s (peak MB) | " + " | ".join(
        f"{ok[m]['seconds']:.0f} ({ok[m]['peak_rss_kb'] // 1024})" if m in ok else "–" for m in METHODS) + " | | |")
if errors:
    print("\nRefused / failed (exit 2, every method):\n")
    for model, e in errors:
        print(f"- **{model}**: `{' '.join(e.split())}`")
