"""Write the golden files for the expected_attention parity test (tests/parity/test_expected_attention_kvpress.cpp).

Runs kvpress 0.5.4's ExpectedAttentionPress on SmolLM2-135M-Instruct (the
GGUF file, dequantized by transformers in float32) over one document and
records, for one layer, what the C++ scorer needs as input and what kvpress
computed from it:

- inputs: the pre-RoPE queries, post-RoPE keys and values of the layer;
- kvpress's query statistics after its averaged RoPE rotation (mean and
  covariance per query head), its scores and the kept token indices per KV
  head of ScorerPress's per-head top-k.

kvpress excludes its first n_sink tokens from the statistics and the
softmax, and gives them the maximum score. The C++ scorer does the same with
sink = n_sink; with recent = 0 its kept sets must equal kvpress's.

transformers un-permutes the llama Q and K rows of a GGUF file into the
Hugging Face order, where RoPE pairs dimension i with i + head_dim/2. The
C++ engine keeps the GGUF order, where RoPE pairs 2i with 2i + 1. Within a
head, GGUF dimension 2i+p is Hugging Face dimension p*(head_dim/2)+i, and
every per-dimension array here is written in the GGUF order.

Output: tests/golden/kvpress_expected_attention.bin (float32 arrays,
little-endian, concatenated) and tests/golden/kvpress_expected_attention.json
(shapes, offsets, settings, token ids, kept indices).

Usage: python tools/kvpress_query_stats_golden.py [--model PATH] [--out DIR]
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from kvpress import ExpectedAttentionPress
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path.home() / ".cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf"
DOCUMENT = Path("/work/shared/data/haystack/canterbury/alice29.txt")

LAYER = 10
N_TOKENS = 300
RATIO = 0.5
N_SINK = 4  # ExpectedAttentionPress.n_sink default
N_FUTURE = 512  # ExpectedAttentionPress.n_future_positions default
EPSILON = 0.02  # kvpress defaults to 0; a non-zero value exercises the (score + epsilon) * |v| step


def gguf_order(head_dim: int) -> torch.Tensor:
    """Index array idx with x_gguf = x_hf[..., idx] inside one head."""
    half = head_dim // 2
    idx = torch.empty(head_dim, dtype=torch.long)
    for i in range(half):
        idx[2 * i] = i
        idx[2 * i + 1] = half + i
    return idx


def document_tokens(tokenizer) -> torch.Tensor:
    text = DOCUMENT.read_text(encoding="utf-8", errors="replace")
    # Past the title block, so the tokens are ordinary prose.
    ids = tokenizer(text[2000:20000], add_special_tokens=False)["input_ids"]
    if len(ids) < N_TOKENS:
        raise SystemExit(f"{DOCUMENT} gives {len(ids)} tokens, need {N_TOKENS}")
    return torch.tensor([ids[:N_TOKENS]], dtype=torch.long)


class Recorder:
    """Captures one layer's projections and what ExpectedAttentionPress computes there."""

    def __init__(self, model, press: ExpectedAttentionPress):
        self.tensors = {}
        attn = model.model.layers[LAYER].self_attn
        self.handle = attn.register_forward_pre_hook(self.capture_inputs, with_kwargs=True)

        statistics = press.get_query_statistics
        score = press.score
        recorder = self

        def get_query_statistics(module, hidden_states):
            mu, cov = statistics(module, hidden_states)
            if module.layer_idx == LAYER:
                recorder.tensors["mean"] = mu.detach().clone()
                recorder.tensors["covariance"] = cov.detach().clone()
            return mu, cov

        def scored(module, hidden_states, keys, values, attentions, kwargs):
            out = score(module, hidden_states, keys, values, attentions, kwargs)
            if module.layer_idx == LAYER:
                recorder.tensors["scores"] = out.detach().clone()
                recorder.tensors["cache_keys"] = keys.detach().clone()
            return out

        object.__setattr__(press, "get_query_statistics", get_query_statistics)
        object.__setattr__(press, "score", scored)

    def capture_inputs(self, module, args, kwargs):
        hs = kwargs["hidden_states"]
        cos, sin = kwargs["position_embeddings"]
        n, d = hs.shape[1], module.head_dim
        with torch.no_grad():
            q = module.q_proj(hs).view(1, n, -1, d).transpose(1, 2)
            k = module.k_proj(hs).view(1, n, -1, d).transpose(1, 2)
            v = module.v_proj(hs).view(1, n, -1, d).transpose(1, 2)
            _, k_rope = apply_rotary_pos_emb(q, k, cos, sin)
        self.tensors.update(q_raw=q, k_rope=k_rope, v=v)

    def remove(self):
        self.handle.remove()


def token_major(x: torch.Tensor, idx) -> np.ndarray:
    """[1, heads, n, d] -> [n, heads, d] float32, dimensions reordered by idx (None keeps them)."""
    if idx is not None:
        x = x[..., idx]
    return x[0].transpose(0, 1).contiguous().numpy().astype(np.float32)


class GoldenWriter:
    def __init__(self):
        self.blob = bytearray()
        self.arrays = {}

    def add(self, name: str, array: np.ndarray):
        array = np.ascontiguousarray(array, dtype="<f4")
        self.arrays[name] = {"offset": len(self.blob), "shape": list(array.shape)}
        self.blob += array.tobytes()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("COMPACTOR_MODEL", str(DEFAULT_MODEL)))
    parser.add_argument("--out", default=str(REPO / "tests/golden"))
    args = parser.parse_args()

    model_path = Path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model = AutoModelForCausalLM.from_pretrained(model_path.parent, gguf_file=model_path.name, dtype=torch.float32)
    model.eval()
    ids = document_tokens(tokenizer)
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    idx = gguf_order(head_dim)

    press = ExpectedAttentionPress(
        compression_ratio=RATIO, n_future_positions=N_FUTURE, n_sink=N_SINK, epsilon=EPSILON
    )
    recorder = Recorder(model, press)
    with torch.no_grad(), press(model):
        model(ids)
    recorder.remove()
    t = recorder.tensors

    # kvpress must have scored the keys recomputed here.
    key_error = (t["cache_keys"] - t["k_rope"]).abs().max().item()
    if key_error > 1e-4:
        raise SystemExit(f"recomputed post-RoPE keys differ from kvpress's by {key_error}")

    # Per-head selection as ScorerPress.compress makes it.
    scores = t["scores"][0]  # [n_head_kv, n]
    n_kept = int(N_TOKENS * (1 - RATIO))
    kept = scores.topk(n_kept, dim=-1).indices.sort(dim=-1).values

    writer = GoldenWriter()
    writer.add("q_raw", token_major(t["q_raw"], idx))
    writer.add("k_rope", token_major(t["k_rope"], idx))
    writer.add("v", token_major(t["v"], None))
    writer.add("mean", t["mean"][0][:, idx].numpy())
    writer.add("covariance", t["covariance"][0][:, idx][:, :, idx].numpy())
    writer.add("scores", scores.numpy())

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kvpress_expected_attention.bin").write_bytes(bytes(writer.blob))
    meta = {
        "source": "tools/kvpress_query_stats_golden.py, kvpress 0.5.4 ExpectedAttentionPress on "
        "SmolLM2-135M-Instruct Q4_1",
        "layer": LAYER,
        "n_tokens": N_TOKENS,
        "n_head": config.num_attention_heads,
        "n_head_kv": config.num_key_value_heads,
        "head_dim": head_dim,
        "rope_freq_base": float(getattr(config, "rope_theta", None) or config.rope_parameters["rope_theta"]),
        "ratio": RATIO,
        "n_sink": N_SINK,
        "n_future_positions": N_FUTURE,
        "epsilon": EPSILON,
        "token_ids": ids[0].tolist(),
        "arrays": writer.arrays,
        "layouts": {
            "q_raw": "[n_tokens, n_head, head_dim], pre-RoPE, GGUF dimension order",
            "k_rope": "[n_tokens, n_head_kv, head_dim], GGUF dimension order",
            "v": "[n_tokens, n_head_kv, head_dim]",
            "mean": "[n_head, head_dim], after the averaged rotation, GGUF dimension order",
            "covariance": "[n_head, head_dim, head_dim], after the averaged rotation, GGUF dimension order",
            "scores": "[n_head_kv, n_tokens], the n_sink first tokens padded with the maximum + 1",
        },
        "kept": kept.tolist(),
    }
    (out / "kvpress_expected_attention.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(writer.blob)} bytes to {out / 'kvpress_expected_attention.bin'}")


if __name__ == "__main__":
    main()
