"""Cross-check `compactor eval` against kvpress 0.5.4 on the same samples.

Runs kvpress's presses (transformers, CPU, fp32 weights dequantized from the
same GGUF file) on samples exported by `compactor eval --export-samples`, with
the token ids compactor uses, and compares the answers with the predictions
in compactor's results.jsonl: per method, the share of samples whose answers
are identical, and both mean scores side by side.

What each side runs:
- The prompt is compactor's ChatML layout: BOS-free system turn, user header
  and context (prefilled and compressed), then the question, the end of the
  turn, the assistant header and the answer prefix. The token ids come from a
  `tokenizers` tokenizer built from the GGUF vocabulary and merges, which
  matches compactor's tokenizer on every golden string (tests/golden/README.md).
- kvpress compresses during the context prefill and decodes greedily from
  the compressed cache at the original positions, as its pipeline does.
- compactor's side is whatever results.jsonl holds; run it with per_head
  budgets and kvpress's settings to compare like with like (the commands are
  in docs/results/README.md).

Usage:
  python tools/kvpress_eval_check.py --samples SAMPLES.jsonl --results DIR/results.jsonl
      [--results OTHER/results.jsonl ...] [--task niah_single_1] [--methods none,compactor,...]
      [--ratio 0.5] [--threads 2] [--limit N] [--model GGUF] [--out REPORT.md]
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

import torch
from kvpress import CompactorPress, KnormPress, SnapKVPress, StreamingLLMPress
from transformers import AutoModelForCausalLM, DynamicCache

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tokenizer_golden import build_reference, read_gguf_tokenizer  # noqa: E402

DEFAULT_MODEL = Path.home() / ".cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_METHODS = "none,compactor,knorm,streaming_llm,snapkv"


def make_press(method: str, ratio: float):
    """kvpress's press for one compactor method name, with kvpress's defaults."""
    if method == "none":
        return None
    if method == "compactor":
        return CompactorPress(compression_ratio=ratio)
    if method == "knorm":
        return KnormPress(compression_ratio=ratio)
    if method == "streaming_llm":
        return StreamingLLMPress(compression_ratio=ratio)
    if method == "snapkv":
        return SnapKVPress(compression_ratio=ratio)
    raise SystemExit(f"method {method!r} has no kvpress counterpart here; use {DEFAULT_METHODS}")


def default_system_prompt(chat_template: str) -> str:
    """Return the system prompt the template adds to a chat without one, as compactor's ChatTemplate reads it."""
    match = re.search(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", chat_template or "", re.S)
    return match.group(1) if match else ""


class PromptEncoder:
    """Token ids of a sample's context and question, segmented as compactor segments them."""

    def __init__(self, model_path: Path):
        tokens, types, merges, meta = read_gguf_tokenizer(model_path)
        self.tokenizer = build_reference(tokens, types, merges, meta["pre"])
        self.system = default_system_prompt(meta["chat_template"])

    def encode(self, text: str) -> list:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def sample(self, sample: dict) -> tuple:
        header = ""
        if self.system:
            header += f"<|im_start|>system\n{self.system}<|im_end|>\n"
        header += "<|im_start|>user\n"
        context = self.encode(header) + self.encode(sample["context"])
        question = (self.encode(sample["question"]) + self.encode("<|im_end|>\n<|im_start|>assistant\n")
                    + self.encode(sample.get("answer_prefix", "")))
        return context, question

    def decode(self, ids: list) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def string_match_all(prediction: str, references: list) -> float:
    """RULER's score: the share of references found in the prediction, ignoring case."""
    text = prediction.lower()
    return sum(ref.lower() in text for ref in references) / max(len(references), 1)


def string_match_any(prediction: str, references: list) -> float:
    text = prediction.lower()
    return float(any(ref.lower() in text for ref in references))


def score(sample: dict, prediction: str) -> float:
    metric = sample.get("metric", "string_match_all")
    if metric == "string_match_all":
        return string_match_all(prediction, sample["references"])
    if metric == "string_match_any":
        return string_match_any(prediction, sample["references"])
    raise SystemExit(f"metric {metric!r} is not scored by this script; cross-check a RULER task")


@torch.inference_mode()
def kvpress_answer(model, press, context_ids: list, question_ids: list, max_new_tokens: int, stop_ids: set) -> list:
    """Prefill the context under the press, then decode greedily from the compressed cache."""
    cache = DynamicCache()
    context = torch.tensor([context_ids])
    with press(model) if press is not None else _no_press():
        model.model(input_ids=context, past_key_values=cache)

    n_context = len(context_ids)
    position_ids = torch.arange(n_context, n_context + len(question_ids)).unsqueeze(0)
    out = model(input_ids=torch.tensor([question_ids]), past_key_values=cache, position_ids=position_ids,
                logits_to_keep=1)
    generated = [int(out.logits[0, -1].argmax())]
    next_pos = n_context + len(question_ids)
    while generated[-1] not in stop_ids and len(generated) < max_new_tokens:
        out = model(input_ids=torch.tensor([[generated[-1]]]), past_key_values=cache,
                    position_ids=torch.tensor([[next_pos]]))
        next_pos += 1
        generated.append(int(out.logits[0, -1].argmax()))
    return generated


class _no_press:
    def __enter__(self):
        return None

    def __exit__(self, *args):
        return False


def read_jsonl(path: Path) -> list:
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"warning: {path}:{number} is not JSON ({e}); skipped", file=sys.stderr)
    return lines


def compactor_predictions(paths: list, ratio: float) -> dict:
    """(sample_id, method) -> result line, at `ratio` (ratio 0 for none), agnostic protocol."""
    predictions = {}
    for path in paths:
        for line in read_jsonl(Path(path)):
            if line.get("protocol", "agnostic") != "agnostic":
                continue
            method = line["method"]
            expected_ratio = 0.0 if method == "none" else ratio
            if abs(float(line["ratio"]) - expected_ratio) > 1e-9:
                continue
            predictions[(line["sample_id"], method)] = line
    return predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", required=True, type=Path, help="samples exported by compactor eval")
    parser.add_argument("--results", required=True, action="append", help="compactor results.jsonl (repeatable)")
    parser.add_argument("--task", default="niah_single_1")
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="first N samples of the task (0: all)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, help="also write the report as Markdown here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    methods = [m for m in args.methods.split(",") if m]
    samples = [s for s in read_jsonl(args.samples) if s["task"] == args.task]
    if args.limit > 0:
        samples = samples[: args.limit]
    if not samples:
        raise SystemExit(f"no samples of task {args.task!r} in {args.samples}")
    ours = compactor_predictions(args.results, args.ratio)

    encoder = PromptEncoder(args.model)
    model = AutoModelForCausalLM.from_pretrained(str(args.model.parent), gguf_file=args.model.name,
                                                 dtype=torch.float32)
    model.eval()
    stop_ids = model.generation_config.eos_token_id
    stop_ids = set(stop_ids if isinstance(stop_ids, list) else [stop_ids])
    stop_ids |= {encoder.tokenizer.token_to_id("<|im_end|>")}

    rows = []
    started = time.time()
    for method in methods:
        same, missing, ours_scores, theirs_scores, examples = 0, 0, [], [], []
        for i, sample in enumerate(samples):
            line = ours.get((sample["id"], method))
            if line is None:
                missing += 1
                continue
            mine = line["prediction"]
            context_ids, question_ids = encoder.sample(sample)
            if line.get("n_context_tokens", len(context_ids)) != len(context_ids):
                print(f"warning: {sample['id']}: compactor prefilled {line['n_context_tokens']} context tokens, "
                      f"this script {len(context_ids)}; the prompts differ", file=sys.stderr)
            ids = kvpress_answer(model, make_press(method, args.ratio), context_ids, question_ids,
                                 int(sample["max_new_tokens"]), stop_ids)
            theirs = encoder.decode([t for t in ids if t not in stop_ids])
            same += theirs.strip() == mine.strip()
            ours_scores.append(score(sample, mine))
            theirs_scores.append(score(sample, theirs))
            if theirs.strip() != mine.strip() and len(examples) < 2:
                examples.append((sample["id"], mine.strip(), theirs.strip()))
            print(f"[{time.time() - started:7.1f} s] {method} {i + 1}/{len(samples)}", file=sys.stderr)
        n = len(ours_scores)
        rows.append({
            "method": method, "n": n, "missing": missing,
            "agreement": same / n if n else float("nan"),
            "compactor": 100 * sum(ours_scores) / n if n else float("nan"),
            "kvpress": 100 * sum(theirs_scores) / n if n else float("nan"),
            "examples": examples,
        })

    lines = [
        f"kvpress 0.5.4 vs compactor on {args.task}, {len(samples)} samples, ratio {args.ratio} "
        f"(none at ratio 0), {args.threads} threads, {time.time() - started:.0f} s",
        "",
        "| method | samples | identical answers | compactor score | kvpress score |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['n']} | {100 * r['agreement']:.0f}% | {r['compactor']:.1f} | "
                     f"{r['kvpress']:.1f} |")
    for r in rows:
        if r["missing"]:
            lines.append(f"\n{r['method']}: {r['missing']} samples have no compactor prediction in the results")
        for sample_id, mine, theirs in r["examples"]:
            lines.append(f"\n{r['method']} {sample_id}: compactor {mine!r} / kvpress {theirs!r}")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
