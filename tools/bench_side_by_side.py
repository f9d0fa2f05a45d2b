"""Run compactor, llama.cpp and kvpress on the same GGUF file and tokens, and print their speed ratios.

In one run, on the same model file, context token ids and thread count:
  1. `compactor bench --json --dump-tokens`: prefill, scoring, compaction and
     decode speed, KV bytes and peak memory;
  2. tools/bench_llamacpp.py: llama.cpp's prefill and decode speed;
  3. tools/bench_kvpress.py: the time kvpress's CompactorPress adds to a prefill;
  4. bench/sgemm_gflops: the GFLOP/s of the OpenBLAS sgemm compactor links,
     the ceiling for prefill's achieved FLOP/s.
It prints Markdown tables of compactor / llama.cpp and kvpress / compactor
ratios and of the performance targets, and writes them to --markdown.

Usage: python tools/bench_side_by_side.py [--model M] [--threads N] [--lengths 1024,2048,4096,8192]
           [--runs 3] [--decode-tokens 128] [--ratio 0.5] [--build build] [--markdown FILE] [--out-dir DIR]
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
DEFAULT_MODEL = Path.home() / ".cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf"
MIB = 1024.0 * 1024.0

# Targets of the performance work, checked at 4k and 8k context tokens.
TARGET_LENGTHS = (4096, 8192)
PREFILL_VS_LLAMACPP = 1.0
DECODE_VS_LLAMACPP = 1.0
COMPRESSED_DECODE_SPEEDUP = 1.15
OVERHEAD_PERCENT = 2.0
KVPRESS_SPEEDUP = 10.0
MEMORY_MARGIN = 0.15

# A 1-minute load average above this many runnable tasks per core marks a
# run as taken on a busy machine.
BUSY_LOAD_PER_CORE = 0.5

# The prefill matrix shapes of bench/sgemm_gflops with how many times each
# runs per layer, to weight their rates by FLOPs.
PROJECTION_USES = {"q_o_proj": 2, "k_v_proj": 2, "gate_up": 2, "down": 1}


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_json(command, out_path):
    """Run `command`, keep its stdout in out_path and return it parsed as JSON."""
    log("$ " + shlex.join(command))
    result = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True)
    out_path.write_text(result.stdout)
    return json.loads(result.stdout)


def median(figure):
    return figure["median"]


def ratio(numerator, denominator):
    return numerator / denominator if denominator else float("nan")


def fmt_spread(figure, digits=1):
    return f"{figure['median']:.{digits}f} [{figure['min']:.{digits}f}, {figure['max']:.{digits}f}]"


def sgemm_rates(report):
    """GFLOP/s per benchmark name ('blas_1t/q_o_proj/512x576x576', ...)."""
    return {b["name"]: b["GFLOP/s"] for b in report.get("benchmarks", []) if "GFLOP/s" in b}


def sgemm_ceilings(rates, n_threads):
    """Return the best N-thread rate at the large square shape, and the
    FLOP-weighted rate of compactor::linear at the prefill projection shapes."""
    square = [rate for name, rate in rates.items()
              if "square_2048" in name and (name.startswith(f"blas_{n_threads}t/")
                                            or name.startswith(f"linear_{n_threads}t/")
                                            or (n_threads == 1 and name.startswith("blas_1t/")))]
    flop_total, seconds_total = 0.0, 0.0
    for name, rate in rates.items():
        parts = name.split("/")
        if parts[0] != f"linear_{n_threads}t" or parts[1] not in PROJECTION_USES:
            continue
        m, n, k = (int(x) for x in parts[2].split("x"))
        flop = 2.0 * m * n * k * PROJECTION_USES[parts[1]]
        flop_total += flop
        seconds_total += flop / rate
    projections = flop_total / seconds_total if seconds_total else float("nan")
    return (max(square) if square else float("nan")), projections


def build_rows(compactor, llama, kvpress, sgemm_square, sgemm_projections):
    """Build one dict of figures and ratios per context length."""
    llama_by_length = {x["n_tokens"]: x for x in llama["lengths"]} if llama else {}
    kvpress_by_length = {x["n_tokens"]: x for x in kvpress["lengths"]} if kvpress else {}
    rows = []
    for c in compactor["lengths"]:
        n = c["n_tokens"]
        row = {"n_tokens": n, "c": c}
        compression_s = median(c["score_s"]) + median(c["compact_s"])
        row["compression_s"] = compression_s
        row["observe_s"] = median(c["observe_s"])
        row["overhead_percent"] = median(c["score_percent"]) + median(c["compact_percent"])
        row["gflops"] = median(c["prefill_gflop_per_s"])
        row["of_square"] = ratio(row["gflops"], sgemm_square)
        row["of_projections"] = ratio(row["gflops"], sgemm_projections)
        weights_kv = compactor["weight_bytes"] + c["kv_bytes_full"]
        row["memory_ratio"] = ratio(c["peak_rss_bytes"], weights_kv)
        row["weights_kv_bytes"] = weights_kv
        if n in llama_by_length:
            ll = llama_by_length[n]
            row["llama"] = ll
            row["prefill_ratio"] = ratio(median(c["prefill_tokens_per_s"]), median(ll["prefill_tokens_per_s"]))
            row["decode_ratio"] = ratio(median(c["decode_full_tokens_per_s"]), median(ll["decode_tokens_per_s"]))
        if n in kvpress_by_length:
            kv = kvpress_by_length[n]
            row["kvpress"] = kv
            row["kvpress_ratio"] = ratio(median(kv["press_hook_s"]), compression_s)
            row["kvpress_ratio_with_observe"] = ratio(median(kv["press_hook_s"]), compression_s + row["observe_s"])
        rows.append(row)
    return rows


def speed_table(rows):
    lines = ["| context tokens | compactor prefill tokens/s | llama.cpp prefill tokens/s | compactor / llama.cpp "
             "| compactor decode tokens/s (full cache) | llama.cpp decode tokens/s | compactor / llama.cpp "
             "| compactor decode tokens/s (compressed) | compressed / full |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r["c"]
        ll = r.get("llama")
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {:.2f} |".format(
            r["n_tokens"], fmt_spread(c["prefill_tokens_per_s"]),
            fmt_spread(ll["prefill_tokens_per_s"]) if ll else "not run",
            f"{r['prefill_ratio']:.2f}" if ll else "-",
            fmt_spread(c["decode_full_tokens_per_s"]),
            fmt_spread(ll["decode_tokens_per_s"]) if ll else "not run",
            f"{r['decode_ratio']:.2f}" if ll else "-",
            fmt_spread(c["decode_compressed_tokens_per_s"]), median(c["decode_speedup"])))
    return lines


def compression_table(rows):
    lines = ["| context tokens | scoring, % of prefill | compaction, % of prefill | observe() in prefill, % "
             "| compactor scoring + compaction, s | kvpress CompactorPress hooks, s | kvpress / compactor "
             "| kvpress / compactor incl. observe() |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r["c"]
        kv = r.get("kvpress")
        observe = fmt_spread(c["observe_percent"], 2)
        lines.append("| {} | {} | {} | {} | {:.3f} | {} | {} | {} |".format(
            r["n_tokens"], fmt_spread(c["score_percent"], 2), fmt_spread(c["compact_percent"], 2), observe,
            r["compression_s"], fmt_spread(kv["press_hook_s"], 3) if kv else "not run",
            f"{r['kvpress_ratio']:.1f}" if kv else "-", f"{r['kvpress_ratio_with_observe']:.1f}" if kv else "-"))
    return lines


def machine_table(rows, compactor, sgemm_square, sgemm_projections):
    lines = ["| context tokens | prefill GFLOP/s | of sgemm 2048³ ({:.0f} GFLOP/s) | of linear() at prefill shapes "
             "({:.0f} GFLOP/s) | KV MiB full → compressed (kept) | peak RSS MiB | weights ({}) + full KV, MiB "
             "| peak / (weights + KV) |".format(sgemm_square, sgemm_projections, compactor["weight_format"]),
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r["c"]
        lines.append("| {} | {:.1f} | {:.2f} | {:.2f} | {:.1f} → {:.1f} ({:.3f}) | {:.0f} | {:.0f} | {:.2f} |".format(
            r["n_tokens"], r["gflops"], r["of_square"], r["of_projections"], c["kv_bytes_full"] / MIB,
            c["kv_bytes_compressed"] / MIB, c["kept_fraction"], c["peak_rss_bytes"] / MIB,
            r["weights_kv_bytes"] / MIB, r["memory_ratio"]))
    return lines


def target_lines(rows):
    """Build a Markdown table row per target and length with the measured value, the goal and the status."""
    by_length = {r["n_tokens"]: r for r in rows}
    lengths = [n for n in TARGET_LENGTHS if n in by_length]
    note = ""
    if not lengths:
        lengths = [rows[-1]["n_tokens"]]
        note = (f"(the targets are set at {TARGET_LENGTHS[0]} and {TARGET_LENGTHS[1]} tokens; "
                f"this run checks them at {lengths[0]} tokens only)")
    longest = lengths[-1]
    lines = ["| target | context tokens | measured | goal | status |", "|---|---:|---:|---:|---|"]

    def add(name, n, value, goal, met, unit=""):
        status = "met" if met else "missed"
        lines.append(f"| {name} | {n} | {value:.2f}{unit} | {goal} | {status} |")

    for n in lengths:
        r = by_length[n]
        if "prefill_ratio" in r:
            add("prefill vs llama.cpp", n, r["prefill_ratio"], f"≥ {PREFILL_VS_LLAMACPP:.2f}×",
                r["prefill_ratio"] >= PREFILL_VS_LLAMACPP, "×")
            add("decode, full cache, vs llama.cpp", n, r["decode_ratio"], f"≥ {DECODE_VS_LLAMACPP:.2f}×",
                r["decode_ratio"] >= DECODE_VS_LLAMACPP, "×")
        if "kvpress_ratio" in r:
            add("compression step (scoring + compaction) vs kvpress CompactorPress", n, r["kvpress_ratio"],
                f"≥ {KVPRESS_SPEEDUP:.0f}×", r["kvpress_ratio"] >= KVPRESS_SPEEDUP, "×")
            add("the same, counting observe() inside prefill", n, r["kvpress_ratio_with_observe"],
                f"≥ {KVPRESS_SPEEDUP:.0f}×", r["kvpress_ratio_with_observe"] >= KVPRESS_SPEEDUP, "×")
        add("peak memory / (weights + KV)", n, r["memory_ratio"], f"≤ {1 + MEMORY_MARGIN:.2f}",
            r["memory_ratio"] <= 1 + MEMORY_MARGIN)
    r = by_length[longest]
    speedup = median(r["c"]["decode_speedup"])
    add("decode, compressed / full cache", longest, speedup, f"≥ {COMPRESSED_DECODE_SPEEDUP:.2f}×",
        speedup >= COMPRESSED_DECODE_SPEEDUP, "×")
    add("scoring + compaction, % of prefill", longest, r["overhead_percent"], f"≤ {OVERHEAD_PERCENT:.0f}%",
        r["overhead_percent"] <= OVERHEAD_PERCENT, "%")
    if note:
        lines += ["", note]
    return lines


def header_lines(compactor, llama, kvpress, command, load_before):
    load = os.getloadavg()
    runs = compactor["runs"]
    lines = [
        f"Measured {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `{command}`.",
        "",
        f"- CPU: {compactor['cpu']['model']}, {os.cpu_count()} cores; flags: {' '.join(compactor['cpu']['flags'])}",
        f"- Threads: {compactor['n_threads']} for every engine; 1-minute load average {load_before:.2f} "
        f"before the run and {load[0]:.2f} after it",
        f"- compactor: {compactor['compiler']}, {compactor['blas']}; method {compactor['method']} at ratio "
        f"{compactor['ratio']}, prefill chunk {compactor['prefill_chunk']} tokens, fp32 KV cache",
        f"- Model: {compactor['model']} ({compactor['model_file_bytes'] / MIB:.1f} MiB file, "
        f"{compactor['weight_bytes'] / MIB:.1f} MiB of {compactor['weight_format']} weights in memory)",
        f"- Runs: median [min, max] of {runs} run{'' if runs == 1 else 's'} after one warm-up; decode over "
        f"{compactor['decode_tokens']} tokens",
        f"- Python {platform.python_version()}",
    ]
    if llama:
        lines.append(f"- llama.cpp: llama-cpp-python {llama['llama_cpp_python']} built from source, n_batch "
                     f"{llama['n_batch']}, n_ctx {llama['n_ctx']}, its default KV type (f16); system info: "
                     f"`{llama['system_info'].strip()}`")
    if kvpress:
        lines.append(f"- kvpress {kvpress['kvpress']}, transformers {kvpress['transformers']}, torch "
                     f"{kvpress['torch']}, fp32 on the CPU, CompactorPress at ratio {kvpress['ratio']}")
    if max(load_before, load[0]) > BUSY_LOAD_PER_CORE * (os.cpu_count() or 1):
        lines += ["", f"**The machine was busy** (load average above {BUSY_LOAD_PER_CORE} per core): other processes "
                  "shared the cores, so these figures understate every engine, llama.cpp's OpenMP threads most."]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("COMPACTOR_MODEL", str(DEFAULT_MODEL)))
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of every engine")
    parser.add_argument("--lengths", default="1024,2048,4096,8192", help="context lengths in tokens")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--build", default=str(REPO / "build"),
                        help="build folder with bin/compactor and bin/sgemm_gflops")
    parser.add_argument("--skip-llamacpp", action="store_true")
    parser.add_argument("--skip-kvpress", action="store_true")
    parser.add_argument("--markdown", help="write the tables to this Markdown file")
    parser.add_argument("--out-dir", help="keep every tool's JSON output here (default: a temp folder)")
    args = parser.parse_args()

    build = Path(args.build)
    compactor_bin = build / "bin/compactor"
    sgemm_bin = build / "bin/sgemm_gflops"
    if not compactor_bin.is_file():
        raise SystemExit(f"{compactor_bin} not found; build it with cmake --build {build} --target compactor "
                         "sgemm_gflops, or pass --build DIR")
    if not Path(args.model).is_file():
        raise SystemExit(f"model file not found: {args.model} (run scripts/fetch_model.sh or pass --model PATH)")
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="compactor-side-by-side-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    tokens = out_dir / "tokens.json"
    load_before = os.getloadavg()[0]
    common = ["--model", args.model, "--threads", str(args.threads), "--lengths", args.lengths,
              "--runs", str(args.runs)]

    compactor = run_json([str(compactor_bin), "bench", *common, "--decode-tokens", str(args.decode_tokens),
                          "--ratio", str(args.ratio), "--json", "--dump-tokens", str(tokens)],
                         out_dir / "compactor.json")
    llama = None
    if not args.skip_llamacpp:
        llama = run_json([sys.executable, str(TOOLS / "bench_llamacpp.py"), *common, "--decode-tokens",
                          str(args.decode_tokens), "--tokens", str(tokens)], out_dir / "llamacpp.json")
    kvpress = None
    if not args.skip_kvpress:
        kvpress = run_json([sys.executable, str(TOOLS / "bench_kvpress.py"), *common, "--ratio", str(args.ratio),
                            "--tokens", str(tokens)], out_dir / "kvpress.json")
    sgemm = {}
    if sgemm_bin.is_file():
        sgemm = run_json([str(sgemm_bin), f"--threads={args.threads}", "--benchmark_format=json",
                          "--benchmark_min_time=0.2"], out_dir / "sgemm.json")
    else:
        log(f"{sgemm_bin} not found; build the sgemm_gflops target for the FLOP/s columns")

    square, projections = sgemm_ceilings(sgemm_rates(sgemm), compactor["n_threads"])
    rows = build_rows(compactor, llama, kvpress, square, projections)
    command = "python tools/bench_side_by_side.py " + shlex.join(sys.argv[1:])
    sections = [
        *header_lines(compactor, llama, kvpress, command, load_before), "",
        "### Speed against llama.cpp", "", *speed_table(rows), "",
        "### Compression overhead against kvpress", "", *compression_table(rows), "",
        "### Machine limit and memory", "", *machine_table(rows, compactor, square, projections), "",
        "### Targets", "", *target_lines(rows),
    ]
    if args.out_dir:
        sections += ["", f"Raw JSON output of every tool: `{out_dir}`."]
    text = "\n".join(sections) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
        log(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
