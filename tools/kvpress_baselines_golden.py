"""Write the golden files for the baseline parity test (tests/parity/test_baselines_kvpress.cpp).

Runs kvpress 0.5.4's KnormPress, KeyDiffPress, StreamingLLMPress, SnapKVPress,
PyramidKVPress and TOVAPress on SmolLM2-135M-Instruct (the GGUF file,
dequantized by transformers in float32) over the document of
tools/kvpress_golden.py (268 tokens of alice29.txt). For layer 10 it records:

- the inputs of the C++ scorers: pre-RoPE and post-RoPE keys of every token
  and the post-RoPE queries of the last WINDOW tokens (the only queries that
  SnapKV, PyramidKV and TOVA read), in GGUF dimension order;
- every press's scores before selection, and the tokens it keeps per KV head
  at compression ratio 0.5, selected exactly as kvpress selects them;
- PyramidKVPress's keep count of every layer;
- exact leverage scores of the centered pre-RoPE keys (sink 8, recent 4,
  jitter 1e-2), computed here with numpy in float64 because kvpress has no
  exact-leverage press, and their z-scores and kept tokens.

Values are not recorded: none of these scorers reads them.

Output: tests/golden/kvpress_baselines.bin (float32 arrays, little-endian,
concatenated) and tests/golden/kvpress_baselines.json (shapes, offsets,
settings, token ids, kept indices, layer budgets).

Usage: python tools/kvpress_baselines_golden.py [--model PATH] [--out DIR]
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from kvpress import (
    KeyDiffPress,
    KnormPress,
    PyramidKVPress,
    SnapKVPress,
    StreamingLLMPress,
    TOVAPress,
)
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

# The document, the layer and the GGUF dimension order are those of the
# Compactor golden file, so both parity tests read the same tokens.
from kvpress_golden import DEFAULT_MODEL, LAYER, N_TOKENS, REPO, GoldenWriter, gguf_permutation, load_tokens

RATIO = 0.5
WINDOW = 64  # SnapKVPress.window_size default
KERNEL = 5  # SnapKVPress.kernel_size default
BETA = 20  # PyramidKVPress.beta default
N_SINK = 4  # StreamingLLMPress.n_sink default
# Exact leverage uses the protected tokens of CompactorPress's defaults.
LEVERAGE_SINK = 8
LEVERAGE_RECENT = 4
LEVERAGE_JITTER = 1e-2


class ProjectionRecorder:
    """Records the pre-RoPE and post-RoPE keys and post-RoPE queries of one attention layer."""

    def __init__(self, attn):
        self.tensors = {}
        self.handle = attn.register_forward_pre_hook(self.capture, with_kwargs=True)

    def capture(self, module, args, kwargs):
        hs = kwargs["hidden_states"]
        cos, sin = kwargs["position_embeddings"]
        n = hs.shape[1]
        d = module.head_dim
        with torch.no_grad():
            q = module.q_proj(hs).view(1, n, -1, d).transpose(1, 2)
            k = module.k_proj(hs).view(1, n, -1, d).transpose(1, 2)
            q_rope, k_rope = apply_rotary_pos_emb(q, k, cos, sin)
        self.tensors.update(k_raw=k, q_rope=q_rope, k_rope=k_rope)

    def remove(self):
        self.handle.remove()


def run_press(model, ids, press):
    """Prefill with `press`; return layer LAYER's projections, the keys the press saw and its scores."""
    attn = model.model.layers[LAYER].self_attn
    recorder = ProjectionRecorder(attn)
    captured = {}
    score = press.score

    def recording_score(module, hidden_states, keys, values, attentions, kwargs):
        out = score(module, hidden_states, keys, values, attentions, kwargs)
        if module.layer_idx == LAYER:
            captured["scores"] = out.detach().clone()
            captured["keys"] = keys.detach().clone()
        return out

    object.__setattr__(press, "score", recording_score)
    with torch.no_grad(), press(model):
        model(ids)
    recorder.remove()
    return recorder.tensors, captured


def kept_tokens(scores: torch.Tensor, n_kept: int) -> list:
    """Per-head kept indices, as ScorerPress.compress selects them: top-k, then sorted."""
    return scores[0].topk(n_kept, dim=-1).indices.sort(dim=-1).values.tolist()


def exact_leverage(k_raw: np.ndarray) -> np.ndarray:
    """Leverage [n_head_kv, n_tokens] of the centered pre-RoPE keys of the scored tokens, 0 elsewhere."""
    n_head_kv, n_tokens, d = k_raw.shape
    begin, end = LEVERAGE_SINK, n_tokens - LEVERAGE_RECENT
    out = np.zeros((n_head_kv, n_tokens))
    for h in range(n_head_kv):
        x = k_raw[h, begin:end].astype(np.float64)
        x = x - x.mean(axis=0)
        gram = x.T @ x + LEVERAGE_JITTER * np.eye(d)
        out[h, begin:end] = np.einsum("td,de,te->t", x, np.linalg.inv(gram), x)
    return out


def zscore(scores: np.ndarray) -> np.ndarray:
    """Z-scores over the scored tokens of all heads (std with n − 1, as torch.std); protected tokens 0."""
    begin, end = LEVERAGE_SINK, scores.shape[1] - LEVERAGE_RECENT
    part = scores[:, begin:end]
    out = np.zeros_like(scores)
    out[:, begin:end] = (part - part.mean()) / max(part.std(ddof=1), 1e-6)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("COMPACTOR_MODEL", str(DEFAULT_MODEL)))
    parser.add_argument("--out", default=str(REPO / "tests/golden"))
    args = parser.parse_args()

    model_path = Path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        model_path.parent, gguf_file=model_path.name, dtype=torch.float32
    )
    model.eval()
    ids = load_tokens(tokenizer)
    n_layer = model.config.num_hidden_layers
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    perm = gguf_permutation(head_dim)
    n_kept = int(N_TOKENS * (1 - RATIO))  # ScorerPress.compress

    presses = {
        "knorm": KnormPress(compression_ratio=RATIO),
        "keydiff": KeyDiffPress(compression_ratio=RATIO),
        "streaming_llm": StreamingLLMPress(compression_ratio=RATIO, n_sink=N_SINK),
        "snapkv": SnapKVPress(compression_ratio=RATIO, window_size=WINDOW, kernel_size=KERNEL),
        "pyramidkv": PyramidKVPress(compression_ratio=RATIO, window_size=WINDOW, kernel_size=KERNEL, beta=BETA),
        "tova": TOVAPress(compression_ratio=RATIO),
    }

    writer = GoldenWriter()
    methods = {}
    reference = None
    for name, press in presses.items():
        tensors, captured = run_press(model, ids, press)

        # Every press must see the post-RoPE keys recomputed here, and every
        # run must produce the same layer inputs.
        key_error = (captured["keys"] - tensors["k_rope"]).abs().max().item()
        if key_error > 1e-4:
            raise SystemExit(f"{name}: recomputed post-RoPE keys differ from the cache by {key_error}")
        if reference is None:
            reference = tensors
            writer.add("k_raw", reference["k_raw"][0][..., perm].transpose(0, 1).numpy())
            writer.add("k_rope", reference["k_rope"][0][..., perm].transpose(0, 1).numpy())
            writer.add("q_window", reference["q_rope"][0][:, -WINDOW:][..., perm].transpose(0, 1).numpy())
        elif not torch.equal(tensors["k_rope"], reference["k_rope"]):
            raise SystemExit(f"{name}: layer {LAYER} keys differ from the first run")

        keep = n_kept
        entry = {}
        if name == "pyramidkv":
            layers = model.model.layers
            budgets = [press.get_layer_budget(layers[il].self_attn, N_TOKENS) for il in range(n_layer)]
            keep = budgets[LAYER]
            entry["layer_keep"] = budgets
        writer.add(f"{name}/scores", captured["scores"][0].numpy())
        entry["kept"] = kept_tokens(captured["scores"], keep)
        methods[name] = entry

    # Exact leverage of the same keys (the dimension order does not change it).
    k_raw = reference["k_raw"][0].numpy()
    raw = exact_leverage(k_raw)
    z = zscore(raw)
    n_free = round(N_TOKENS * (1 - RATIO)) - LEVERAGE_SINK - LEVERAGE_RECENT
    kept = []
    for h in range(z.shape[0]):
        scored = np.arange(LEVERAGE_SINK, N_TOKENS - LEVERAGE_RECENT)
        best = scored[np.argsort(-z[h, scored], kind="stable")[:n_free]]
        protected = list(range(LEVERAGE_SINK)) + list(range(N_TOKENS - LEVERAGE_RECENT, N_TOKENS))
        kept.append(sorted(protected + best.tolist()))
    writer.add("exact_leverage/raw", raw)
    writer.add("exact_leverage/scores", z)
    methods["exact_leverage"] = {"kept": kept}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kvpress_baselines.bin").write_bytes(bytes(writer.blob))
    meta = {
        "source": "tools/kvpress_baselines_golden.py, kvpress 0.5.4 on SmolLM2-135M-Instruct Q4_1",
        "layer": LAYER,
        "n_layer": n_layer,
        "n_tokens": N_TOKENS,
        "n_head": model.config.num_attention_heads,
        "n_head_kv": model.config.num_key_value_heads,
        "head_dim": head_dim,
        "ratio": RATIO,
        "window": WINDOW,
        "pool_kernel": KERNEL,
        "pyramid_beta": BETA,
        "streaming_n_sink": N_SINK,
        "leverage_sink": LEVERAGE_SINK,
        "leverage_recent": LEVERAGE_RECENT,
        "token_ids": ids[0].tolist(),
        "arrays": writer.arrays,
        "layouts": {
            "k_raw": "[n_tokens, n_head_kv, head_dim], pre-RoPE, GGUF dimension order",
            "k_rope": "[n_tokens, n_head_kv, head_dim], GGUF dimension order",
            "q_window": "[window, n_head, head_dim], post-RoPE queries of the last `window` tokens, GGUF order",
            "<method>/scores": "[n_head_kv, n_tokens], the press's scores before selection",
            "exact_leverage/raw": "[n_head_kv, n_tokens], leverage, protected tokens 0",
            "exact_leverage/scores": "[n_head_kv, n_tokens], z-scored leverage, protected tokens 0",
        },
        "methods": methods,
    }
    (out / "kvpress_baselines.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(writer.blob)} bytes to {out / 'kvpress_baselines.bin'}")


if __name__ == "__main__":
    main()
