#!/usr/bin/env python3
"""Plot quality-budget runs of `compactor eval` against the fixed-ratio curves.

Reads two results.jsonl files: one with fixed-ratio lines (the evaluation
harness's run, for example docs/results/eval-4k) and one with quality-budget
lines (`compactor eval --qualities ...`). Both are averaged the way summary.md
averages: per task over its samples, then over tasks with equal weight, on the
samples that the quality-budget run covers. The y axis is the average score as
a fraction of the full-cache score of the same samples.

    pip install -r tools/requirements.txt
    python3 tools/plot_calibration.py --fixed docs/results/eval-4k/results.jsonl \\
        --calibrated docs/results/calibration-4k/results.jsonl --suite real \\
        --out docs/results/calibration
"""

import argparse
import collections
import json
import sys


def read_lines(path):
    lines = []
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            text = text.strip()
            if not text:
                continue
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                print(f"{path}: skipping line {number}, which is not JSON (an interrupted run?)", file=sys.stderr)
    return lines


def row_label(line):
    label = line["method"] if line.get("budget") is None else f"{line['method']}:{line['budget']}"
    if line.get("calibration"):
        label += "/" + line["calibration"]
    return label


def column(line):
    return line["quality"] if line.get("calibration") else line["ratio"]


def shared_samples(calibrated, fixed):
    """Samples that every quality-budget row and the fixed-ratio lines cover.

    A run still in progress covers rows unevenly, and averages over
    different samples would not compare.
    """
    by_row = collections.defaultdict(set)
    for line in calibrated:
        if line.get("calibration"):
            by_row[row_label(line)].add(line["sample_id"])
    if not by_row:
        return set()
    samples = set.intersection(*by_row.values()) & {line["sample_id"] for line in fixed}
    every = set.union(*by_row.values())
    if samples != every:
        print(f"{len(every - samples)} of {len(every)} calibrated samples miss some rows or the fixed-ratio "
              f"lines; using the {len(samples)} samples that all rows share", file=sys.stderr)
    return samples


def load_lines(args):
    """Return the calibrated and fixed-ratio lines of args.suite at
    args.length and the samples both cover. Exit with a message when there
    are none."""
    def keep(line):
        return line.get("suite") == args.suite and line.get("length") == args.length and line.get("protocol") == "agnostic"

    calibrated = [l for l in read_lines(args.calibrated) if keep(l)]
    if not any(l.get("calibration") for l in calibrated):
        sys.exit(f"{args.calibrated} has no quality-budget lines for suite {args.suite} at {args.length} tokens")
    fixed = [l for l in read_lines(args.fixed) if keep(l) and not l.get("calibration")]
    samples = shared_samples(calibrated, fixed)
    if not samples:
        sys.exit("no sample has both fixed-ratio and quality-budget lines")
    return calibrated, fixed, samples


def averages(lines, samples):
    """{(row, column): (mean score, mean kept fraction)}, tasks weighted equally."""
    per_task = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in lines:
        if line["sample_id"] not in samples:
            continue
        per_task[(row_label(line), column(line))][line["task"]].append((line["score"], line["kept_fraction"]))
    result = {}
    for key, tasks in per_task.items():
        task_means = [(sum(s for s, _ in v) / len(v), sum(k for _, k in v) / len(v)) for v in tasks.values()]
        result[key] = (sum(s for s, _ in task_means) / len(task_means), sum(k for _, k in task_means) / len(task_means))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixed", required=True, help="results.jsonl with fixed-ratio lines")
    parser.add_argument("--calibrated", required=True, help="results.jsonl with quality-budget lines")
    parser.add_argument("--suite", default="real", help="suite to plot: ruler or real (default real)")
    parser.add_argument("--length", type=int, default=4096, help="target length in tokens (default 4096)")
    parser.add_argument("--out", required=True, help="output path without extension; writes .png and .svg")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calibrated, fixed, samples = load_lines(args)

    fixed_avg = averages(fixed, samples)
    calibrated_avg = averages(calibrated, samples)
    full = fixed_avg.get(("none", 0))
    if full is None or full[0] <= 0:
        sys.exit("the fixed-ratio file has no full-cache (none) lines with a positive score on these samples")

    figure, axis = plt.subplots(figsize=(10.5, 5.5))
    rows = sorted({row for row, _ in calibrated_avg if "/" in row})
    methods = sorted({row.split("/")[0] for row in rows})
    colors = {method: plt.cm.tab10(i % 10) for i, method in enumerate(methods)}
    for method in methods:
        points = sorted((kept, score / full[0]) for (row, ratio), (score, kept) in fixed_avg.items() if row == method)
        if points:
            axis.plot([k for k, _ in points], [s for _, s in points], "-", color=colors[method], alpha=0.6,
                      label=f"{method}, fixed ratios")
    for row in rows:
        method, kind = row.split("/")
        points = sorted((kept, score / full[0], tau) for (r, tau), (score, kept) in calibrated_avg.items() if r == row)
        marker = "o" if kind == "fitted" else "s"
        axis.plot([k for k, _, _ in points], [s for _, s, _ in points], marker, color=colors[method], markersize=7,
                  markerfacecolor="none" if kind == "online" else colors[method], label=f"{method}, τ ({kind})")
        for kept, score, tau in points:
            axis.annotate(f"{tau:g}", (kept, score), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.axhline(1.0, color="gray", linestyle=":", linewidth=1)
    axis.set_xlabel("kept fraction of the KV cache (measured)")
    axis.set_ylabel("average score / full-cache score")
    axis.set_title(f"Quality budgets against fixed ratios, {args.suite} suite, {args.length} tokens, {len(samples)} samples")
    axis.set_xlim(0, 1.02)
    # Outside the axes: the quality points crowd the right edge.
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.grid(alpha=0.3)
    figure.tight_layout()
    for extension in ("png", "svg"):
        figure.savefig(f"{args.out}.{extension}", dpi=130)
    print(f"wrote {args.out}.png and {args.out}.svg ({len(samples)} samples, full-cache score {100 * full[0]:.1f})")


if __name__ == "__main__":
    main()
