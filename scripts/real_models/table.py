#!/usr/bin/env python3
"""Markdown table of method scores per real model, from the JSON lines that measure.sh,
rescore.sh and wheels/measure.sh print (`{"model", "method", "result": {...}}`; a later line for
the same model and method replaces an earlier one, so re-scored files can be concatenated after
the originals). Each model is scored by its task's metric; `auto − best` compares auto with the
best single method (positive: auto better).

usage: table.py RESULTS.jsonl [MORE.jsonl ...]
"""
import json
import sys

METHODS = ["minmax", "ema", "percentile", "entropy", "mse"]
# result kind -> (metric, label)
METRIC = {
    "det": ("mask_iou", "text-mask IoU"),
    "rec": ("exact_strings", "exact strings"),
    "cls": ("top1_agreement", "top-1 agreement"),
    "ocr": ("exact_strings", "exact strings"),
    "vad": ("decision_agreement", "speech decisions agreeing"),
}
SECONDARY = {"det": "cosine", "det_boxes": "sqnr_db", "rec": "cosine", "cls": "cosine", "ocr": "sqnr_db",
             "vad": "sqnr_db"}


def main():
    rows = {}
    for path in sys.argv[1:]:
        for line in open(path):
            line = line.strip()
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            if "result" in d:
                rows.setdefault(d["model"], {})[d["method"]] = d["result"]
    if any(r.get("kind") == "det" and "box_f1" in r for m in rows.values() for r in m.values()):
        METRIC["det_boxes"] = ("box_f1", "box F1")
    print("| model | metric | " + " | ".join(METHODS) + " | **auto** | best single | auto − best |")
    print("|---|---|" + "---|" * (len(METHODS) + 3))
    for model, by_method in rows.items():
        kind = next(iter(by_method.values()))["kind"]
        if kind == "det" and "box_f1" in next(iter(by_method.values())):
            kind = "det_boxes"
        key, label = METRIC[kind]
        second = SECONDARY[kind]
        cells = []
        for m in METHODS + ["auto"]:
            r = by_method.get(m)
            cells.append("–" if r is None else f"{r[key]:.4f} ({r.get(second, float('nan')):.3f})")
        singles = [(by_method[m][key], m) for m in METHODS if m in by_method]
        best, best_m = max(singles) if singles else (float("nan"), "")
        auto = by_method.get("auto", {}).get(key, float("nan"))
        print(f"| {model} | {label} ({second}) | " + " | ".join(cells)
              + f" | {best_m} {best:.4f} | {auto - best:+.4f} |")


if __name__ == "__main__":
    main()
