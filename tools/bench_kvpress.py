"""Measure the time kvpress's CompactorPress adds to a transformers prefill, for comparison with compactor.

kvpress 0.5.4 and transformers run on the CPU in fp32 with torch.set_num_threads(N),
on the same GGUF file that compactor reads (transformers dequantizes it at load).
Per context length, after one warm-up, each run times a prefill of the same token
ids that compactor prefills (from `compactor bench --dump-tokens`) without a press
and with CompactorPress (compression ratio --ratio, kvpress's other defaults).
The press's cost is reported two ways: press_hook_s, the time spent inside its
forward hooks (all the work it adds, timed directly), and press_added_s, the
difference between the two prefills (noisier on a busy machine). Only the last
token's logits are computed, as in compactor's prefill. Each figure is the
median, min and max of --runs runs.

Usage: python tools/bench_kvpress.py --model M [--threads N] [--lengths 1024,2048]
           [--runs 3] [--ratio 0.5] [--tokens FILE] [--json-out FILE]
"""

import argparse
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

# The GGUF conversion's tqdm bars would flood the side-by-side log.
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
from kvpress import CompactorPress  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402
from transformers.utils import logging as transformers_logging  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_llamacpp import DEFAULT_COMPACTOR, DEFAULT_MODEL, load_tokens, spread  # noqa: E402


class HookTimer:
    """Sums the wall time of a press's forward hooks, the only code a press adds to a prefill."""

    def __init__(self, press):
        self.seconds = 0.0
        inner = press.forward_hook

        def timed_hook(module, input, kwargs, output):
            start = time.perf_counter()
            result = inner(module, input, kwargs, output)
            self.seconds += time.perf_counter() - start
            return result

        # kvpress presses override __setattr__, so the hook is set on the instance directly.
        object.__setattr__(press, "forward_hook", timed_hook)


def prefill_seconds(model, ids, press):
    """Wall time of one prefill of `ids` into a fresh cache, with `press` compressing it when given."""
    start = time.perf_counter()
    with torch.inference_mode():
        if press is None:
            model(input_ids=ids, use_cache=True, logits_to_keep=1)
        else:
            with press(model):
                model(input_ids=ids, use_cache=True, logits_to_keep=1)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("COMPACTOR_MODEL", str(DEFAULT_MODEL)))
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--lengths", default="1024,2048,4096,8192", help="context lengths in tokens, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per length after one warm-up")
    parser.add_argument("--ratio", type=float, default=0.5, help="CompactorPress compression ratio")
    parser.add_argument("--tokens", help="token ids written by compactor bench --dump-tokens")
    parser.add_argument("--compactor", default=os.environ.get("COMPACTOR_BINARY", str(DEFAULT_COMPACTOR)),
                        help="compactor binary that dumps the token ids when --tokens is absent")
    parser.add_argument("--json-out", help="write the results to this JSON file as well")
    args = parser.parse_args()

    lengths = sorted({int(x) for x in args.lengths.split(",") if x.strip()})
    if not lengths or lengths[0] < 1:
        raise SystemExit(f"--lengths {args.lengths} is invalid; pass positive token counts such as 1024,2048")
    if args.runs < 1 or args.threads < 1:
        raise SystemExit("--runs and --threads must be at least 1")
    if not 0 <= args.ratio < 1:
        raise SystemExit(f"--ratio {args.ratio} is invalid; use a fraction in [0, 1)")
    model_path = Path(args.model)
    if not model_path.is_file():
        raise SystemExit(f"model file not found: {args.model} (run scripts/fetch_model.sh or pass --model PATH)")

    tokens = load_tokens(args, lengths)
    torch.set_num_threads(args.threads)
    # Progress bars of the GGUF conversion would flood the side-by-side log.
    transformers_logging.disable_progress_bar()
    print(f"kvpress: loading {model_path} through transformers (dequantized to fp32)", file=sys.stderr, flush=True)
    model = AutoModelForCausalLM.from_pretrained(model_path.parent, gguf_file=model_path.name, dtype=torch.float32)
    model.eval()
    press = CompactorPress(compression_ratio=args.ratio)
    timer = HookTimer(press)

    results = []
    for length in lengths:
        ids = torch.tensor([tokens[length]], dtype=torch.long)
        print(f"kvpress: {length} tokens, warm-up run", file=sys.stderr, flush=True)
        prefill_seconds(model, ids, None)
        prefill_seconds(model, ids, press)
        plain, pressed, added, hooks = [], [], [], []
        for run in range(args.runs):
            plain.append(prefill_seconds(model, ids, None))
            timer.seconds = 0.0
            pressed.append(prefill_seconds(model, ids, press))
            hooks.append(timer.seconds)
            added.append(pressed[-1] - plain[-1])
            print(f"kvpress: {length} tokens, run {run + 1}: prefill {plain[-1]:.2f} s, with CompactorPress "
                  f"{pressed[-1]:.2f} s, of which its hooks {hooks[-1]:.3f} s", file=sys.stderr, flush=True)
        results.append({"n_tokens": length, "prefill_s": spread(plain), "prefill_press_s": spread(pressed),
                        "press_hook_s": spread(hooks), "press_added_s": spread(added)})

    report = {
        "engine": "kvpress",
        "kvpress": importlib.metadata.version("kvpress"),
        "transformers": importlib.metadata.version("transformers"),
        "torch": torch.__version__,
        "model": args.model,
        "n_threads": args.threads,
        "ratio": args.ratio,
        "runs": args.runs,
        "lengths": results,
    }
    text = json.dumps(report, indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
