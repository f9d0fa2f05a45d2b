#!/usr/bin/env python3
"""Write the golden files for the dequantization parity tests.

Reference: the `gguf` Python package (gguf.quants.quantize / dequantize),
version pinned by tools/requirements.txt. Output, both under tests/golden/:

  dequant.bin   float32 and raw block bytes, concatenated, little-endian
  dequant.json  where each array lies in dequant.bin (byte offset and size)

Each synthetic case has `raw` (the type's block bytes) and `expected` (fp32
after dequantization). Cases made from fp32 input also carry `input`, so the
C++ test can check its quantizer against gguf's byte for byte. Model cases
name a tensor of the default model, the first element dumped and the expected
fp32 values; their raw bytes come from the model file at test time.

Usage: python tools/gguf_golden.py [--model PATH] [--out tests/golden]
"""
import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader
from gguf.quants import dequantize, quantize

SEED = 20240531
QK = 32


class Blob:
    """Concatenated arrays plus their [offset, n_bytes] in the blob."""

    def __init__(self):
        self.parts = []
        self.size = 0

    def add(self, array: np.ndarray) -> list:
        data = np.ascontiguousarray(array).tobytes()
        where = [self.size, len(data)]
        self.parts.append(data)
        self.size += len(data)
        return where

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def float_edge_values() -> np.ndarray:
    """fp32 values that stress fp16/bf16 rounding, range and special values."""
    return np.array([
        0.0, -0.0, 1.0, -1.0, 0.5, 65504.0, -65504.0, 65519.0, 65520.0, 1e6, -1e6,
        6.1035156e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-10, -1e-10,
        1.0009766, 1.0004883, 1.0014648, 3.0517578e-05,
        np.inf, -np.inf, np.nan, 1e38, -3.4028235e38, 1.1754944e-38,
        0.33333334, -2.7182817, 3.1415927, 100.0625, -7.0,
    ], dtype=np.float32)


def quant_input(rng: np.random.Generator) -> np.ndarray:
    """Eight blocks of 32: random, zeros, negative-dominant, large, small,
    constant, mixed magnitudes and a block with exact ties."""
    blocks = [
        rng.standard_normal(QK),
        np.zeros(QK),
        rng.uniform(-1.0, 0.2, QK) * 3.0,
        rng.standard_normal(QK) * 1e4,
        rng.standard_normal(QK) * 1e-6,
        np.full(QK, 0.75),
        rng.standard_normal(QK) * np.logspace(-3, 3, QK),
        np.arange(QK) - 16.0,
    ]
    return np.concatenate(blocks).astype(np.float32)


def raw_blocks(qtype: T, rng: np.random.Generator, n_blocks: int) -> np.ndarray:
    """Random block bytes whose fp16 scale fields are finite, several negative."""
    type_size = {T.Q4_0: 18, T.Q4_1: 20, T.Q8_0: 34}[qtype]
    n_scales = 2 if qtype == T.Q4_1 else 1
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    scales = (rng.standard_normal((n_blocks, n_scales)) * 0.1).astype(np.float16)
    scales[0, 0] = np.float16(-0.5)
    scales[1, 0] = np.float16(0.0)
    raw[:, : 2 * n_scales] = scales.view(np.uint8).reshape(n_blocks, 2 * n_scales)
    return raw.reshape(-1)


def synthetic_cases(blob: Blob, rng: np.random.Generator) -> list:
    cases = []

    def add(name, qtype, n, raw, expected, inputs=None):
        case = {"name": name, "type": qtype.name, "n": int(n),
                "raw": blob.add(raw), "expected": blob.add(expected.astype(np.float32))}
        if inputs is not None:
            case["input"] = blob.add(inputs)
        cases.append(case)

    # F32 is a copy; F16 and BF16 from edge values and random ones.
    floats = np.concatenate([float_edge_values(),
                             rng.standard_normal(32).astype(np.float32) * 10]).astype(np.float32)
    add("f32", T.F32, floats.size, floats, floats, floats)
    for qtype in (T.F16, T.BF16):
        with np.errstate(over="ignore"):  # 1e6 and beyond become inf in F16, as intended
            raw = quantize(floats, qtype)
        add(f"{qtype.name.lower()}_from_fp32", qtype, floats.size, raw,
            dequantize(raw, qtype), floats)

    # Every 16-bit pattern of F16 and BF16 (inf, NaN, subnormals included).
    every = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    for qtype in (T.F16, T.BF16):
        add(f"{qtype.name.lower()}_all_bits", qtype, every.size, every,
            dequantize(every.view(np.uint8), qtype))

    # Block types: quantized from fp32, and random raw blocks.
    inputs = quant_input(rng)
    for qtype in (T.Q4_0, T.Q4_1, T.Q8_0):
        raw = quantize(inputs, qtype)
        add(f"{qtype.name.lower()}_from_fp32", qtype, inputs.size, raw,
            dequantize(raw, qtype), inputs)
        raw = raw_blocks(qtype, rng, 8)
        add(f"{qtype.name.lower()}_raw", qtype, 8 * QK, raw, dequantize(raw, qtype))
    return cases


def model_cases(blob: Blob, model: Path) -> list:
    reader = GGUFReader(model)
    tensors = {t.name: t for t in reader.tensors}
    picks = [
        ("blk.0.attn_q.weight", 0, 4096),
        ("token_embd.weight", 0, 4096),
        ("token_embd.weight", 30000 * 576, 1152),  # row 30000, far into the data
        ("blk.0.attn_norm.weight", 0, 576),
        (reader.tensors[-1].name, 0, 512),          # last tensor in the file
    ]
    cases = []
    for name, start, n in picks:
        t = tensors[name]
        values = dequantize(t.data, t.tensor_type).reshape(-1)[start:start + n]
        cases.append({"tensor": name, "type": t.tensor_type.name, "start": start, "n": n,
                      "expected": blob.add(values.astype(np.float32))})
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cache = Path(os.environ.get("COMPACTOR_CACHE", Path.home() / ".cache/compactor"))
    parser.add_argument("--model", type=Path,
                        default=cache / "models/SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests/golden")
    args = parser.parse_args()

    blob = Blob()
    rng = np.random.default_rng(SEED)
    sidecar = {
        "generator": "tools/gguf_golden.py",
        "seed": SEED,
        "blob": "dequant.bin",
        "cases": synthetic_cases(blob, rng),
        "model": {
            "file": args.model.name,
            "size": args.model.stat().st_size,
            "sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
            "cases": [],
        },
    }
    sidecar["model"]["cases"] = model_cases(blob, args.model)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dequant.bin").write_bytes(blob.bytes())
    (args.out / "dequant.json").write_text(json.dumps(sidecar, indent=1) + "\n")
    print(f"wrote {args.out / 'dequant.bin'} ({blob.size} bytes) and dequant.json")


if __name__ == "__main__":
    main()
