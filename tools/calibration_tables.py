#!/usr/bin/env python3
"""Print the markdown tables of docs/results/calibration.md.

Reads the quality-budget lines of one `compactor eval --qualities ...` run and
the fixed-ratio lines of the evaluation harness's run, and keeps the samples
that every row covers. Prints three tables. The first gives the average kept
fraction and score / full score per method, calibration kind and τ. The
second gives the same averages at fixed ratios, for reference. The third
gives, per task, the score and kept fraction at each τ. Averages weight
tasks equally, as summary.md does. Needs only the standard library.

    python3 tools/calibration_tables.py --fixed docs/results/eval-4k/results.jsonl \\
        --calibrated docs/results/calibration-4k/results.jsonl --suite real
"""

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_calibration import averages, column, load_lines, row_label  # noqa: E402


def per_task(lines, samples):
    """{(row, column, task): (mean score, mean kept fraction, samples)}."""
    values = collections.defaultdict(list)
    for line in lines:
        if line["sample_id"] in samples:
            values[(row_label(line), column(line), line["task"])].append((line["score"], line["kept_fraction"]))
    return {key: (sum(s for s, _ in v) / len(v), sum(k for _, k in v) / len(v), len(v)) for key, v in values.items()}


def fraction(score, full):
    return f"{score / full:.3f}" if full > 0 else "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixed", required=True, help="results.jsonl with fixed-ratio lines")
    parser.add_argument("--calibrated", required=True, help="results.jsonl with quality-budget lines")
    parser.add_argument("--suite", default="real", help="suite: ruler or real (default real)")
    parser.add_argument("--length", type=int, default=4096, help="target length in tokens (default 4096)")
    args = parser.parse_args()

    calibrated, fixed, samples = load_lines(args)

    quality = averages(calibrated, samples)
    reference = averages(fixed, samples)
    full_score = reference[("none", 0)][0]
    rows = sorted({row for row, _ in quality if "/" in row})
    taus = sorted({tau for row, tau in quality if "/" in row})
    tasks = sorted({l["task"] for l in calibrated if l["sample_id"] in samples})

    print(f"{len(samples)} samples of {len(tasks)} tasks that every row covers; full-cache average score "
          f"{100 * full_score:.1f}.\n")
    print("| method / calibration | " + " | ".join(f"τ {t:g}: kept | τ {t:g}: score / full" for t in taus) + " |")
    print("|---|" + "---:|---:|" * len(taus))
    for row in rows:
        cells = []
        for tau in taus:
            score, kept = quality[(row, tau)]
            cells += [f"{kept:.3f}", fraction(score, full_score)]
        print(f"| {row} | " + " | ".join(cells) + " |")

    ratios = sorted({r for row, r in reference if row != "none" and r > 0})
    methods = sorted({row.split("/")[0] for row in rows})
    print("\nFixed ratios on the same samples (evaluation harness):\n")
    print("| method | " + " | ".join(f"ratio {r:g}: kept | ratio {r:g}: score / full" for r in ratios) + " |")
    print("|---|" + "---:|---:|" * len(ratios))
    for method in methods:
        cells = []
        for ratio in ratios:
            score, kept = reference.get((method, ratio), (float("nan"), float("nan")))
            cells += [f"{kept:.3f}", fraction(score, full_score)]
        print(f"| {method} | " + " | ".join(cells) + " |")

    tasks_quality = per_task(calibrated, samples)
    for tau in taus:
        print(f"\nPer task at τ {tau:g}: score (kept fraction); scores are percentages.\n")
        print("| task | samples | full cache | " + " | ".join(rows) + " |")
        print("|---|---:|---:|" + "---:|" * len(rows))
        for task in tasks:
            full = tasks_quality.get(("none", 0, task))
            cells = [task, str(full[2]) if full else "0", f"{100 * full[0]:.1f}" if full else "n/a"]
            for row in rows:
                value = tasks_quality.get((row, tau, task))
                cells.append(f"{100 * value[0]:.1f} ({value[1]:.2f})" if value else "n/a")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
