#!/usr/bin/env python3
"""Write reference last-position logits of the default GGUF model for the
forward-pass parity test (tests/parity/test_logits.cpp).

transformers loads the GGUF file itself (dequantizing every tensor to fp32 and
undoing the converter's Q/K row permutation), tokenizes three prompts with the
file's own tokenizer and runs them in fp32 on the CPU. For each prompt the
token ids go into tests/golden/logits.json and the logits of the last position
([n_vocab] float32, little-endian) into tests/golden/logits_<name>.f32.

Usage: python tools/logits_golden.py [--model PATH] [--out DIR]
"""

import argparse
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF loading prints a progress bar per tensor

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path.home() / ".cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf"
ALICE = REPO.parent / "shared/data/haystack/canterbury/alice29.txt"
LONG_TOKENS = 2000  # target length of the long prompt, so a 512-token prefill crosses chunks

SYSTEM = "You are a helpful assistant. Answer from the document."
CODE = '''def binary_search(items, target):
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1
'''


def chatml(system: str, user: str) -> str:
    return (f"<|im_start|>system\n{system}<|im_end|>\n"
            f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")


def long_prompt(tokenizer, alice_path: Path) -> list[int]:
    """ChatML around the opening of Alice, cut so the whole prompt is LONG_TOKENS tokens."""
    text = alice_path.read_text(encoding="utf-8", errors="replace")
    question = "\n\nWhat was Alice doing when the White Rabbit ran by?"
    overhead = len(encode_chat(tokenizer, chatml(SYSTEM, question)))
    doc_ids = tokenizer.encode(text, add_special_tokens=False)[: LONG_TOKENS - overhead]
    document = tokenizer.decode(doc_ids)
    return encode_chat(tokenizer, chatml(SYSTEM, document + question))


def encode_chat(tokenizer, text: str) -> list[int]:
    # The template already opens with <|im_start|>, which is also SmolLM2's BOS
    # token, so the tokenizer must not add another one in front.
    return tokenizer.encode(text, add_special_tokens=False)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path(os.environ.get("COMPACTOR_MODEL", DEFAULT_MODEL)))
    parser.add_argument("--alice", type=Path, default=ALICE)
    parser.add_argument("--out", type=Path, default=REPO / "tests/golden")
    args = parser.parse_args()

    torch.manual_seed(0)
    directory, name = str(args.model.parent), args.model.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()

    prompts = {
        "long_chat": long_prompt(tokenizer, args.alice),
        "short_chat": encode_chat(tokenizer, chatml(SYSTEM, "What is the capital of France?")),
        "code": tokenizer.encode(CODE),
    }

    entries = []
    for prompt_name, ids in prompts.items():
        with torch.no_grad():
            out = model(torch.tensor([ids], dtype=torch.long), use_cache=False)
        logits = out.logits[0, -1].to(torch.float32).numpy()
        file_name = f"logits_{prompt_name}.f32"
        logits.astype("<f4").tofile(args.out / file_name)
        entries.append({
            "name": prompt_name,
            "file": file_name,
            "n_tokens": len(ids),
            "top1": int(np.argmax(logits)),
            "max_abs_logit": float(np.abs(logits).max()),
            "ids": ids,
        })
        print(f"{prompt_name}: {len(ids)} tokens, top-1 {entries[-1]['top1']} "
              f"({tokenizer.decode([entries[-1]['top1']])!r})")

    sidecar = {
        "generator": "tools/logits_golden.py",
        "reference": "transformers AutoModelForCausalLM (GGUF dequantized to fp32), torch CPU fp32",
        "model_file": name,
        "model_sha256": sha256(args.model),
        "n_vocab": int(model.config.vocab_size),
        "dtype": "float32 little-endian, [n_vocab] logits of the last position",
        "prompts": entries,
    }
    with open(args.out / "logits.json", "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
