"""Write the golden files for the Compactor parity test (tests/parity/test_compactor_kvpress.cpp).

Runs kvpress 0.5.4's CompactorPress on SmolLM2-135M-Instruct (the GGUF file,
dequantized by transformers) over one document. For one layer it records the
token ids, the post-RoPE queries, pre-RoPE keys, post-RoPE keys and values,
and the Gaussian sketch kvpress drew. It also records kvpress's z-scored
leverage and attention parts, blended scores and kept token indices.

kvpress scores only the tokens between the first `sink` and the last `recent`
ones, and masks the padding of a short last attention chunk with a logit of
-1e-9 instead of -inf. The document therefore has sink + recent + a multiple
of the chunk length tokens, so that every chunk is full.

transformers un-permutes the llama Q and K weight rows of a GGUF file into the
Hugging Face order. Within each head, GGUF dimension 2i+p is Hugging Face
dimension p*(head_dim/2)+i (p in {0, 1}); everything per head dimension
(queries, keys and the rows of the sketch) is written in the GGUF order the
C++ engine uses. Values are not permuted.

Output: tests/golden/kvpress_compactor.bin (float32 arrays, little-endian,
concatenated) and tests/golden/kvpress_compactor.json (shapes, offsets,
settings, token ids, kept indices).

Usage: python tools/kvpress_golden.py [--model PATH] [--out DIR]
"""

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from kvpress import AdaKVPress, CompactorPress
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path.home() / ".cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf"
DOCUMENT = Path("/work/shared/data/haystack/canterbury/alice29.txt")

LAYER = 10
SINK = 8  # CompactorPress.sink_size_start default
RECENT = 4  # CompactorPress.sink_size_end default
SKETCH_DIM = 48
RATIO = 0.5
HEAD_FLOOR = 0.2  # AdaKVPress.alpha_safeguard default
SEED = 0
# One run per attention chunk length: 256 (the kvpress default) gives one
# chunk over the scored tokens, 128 gives two.
CHUNKS = (256, 128)
N_SCORED = 256
N_TOKENS = SINK + N_SCORED + RECENT


def gguf_permutation(head_dim: int) -> torch.Tensor:
    """Index array perm with x_gguf = x_hf[..., perm] inside one head."""
    half = head_dim // 2
    perm = torch.empty(head_dim, dtype=torch.long)
    for i in range(half):
        for p in range(2):
            perm[2 * i + p] = p * half + i
    return perm


def load_tokens(tokenizer) -> torch.Tensor:
    text = DOCUMENT.read_text(encoding="utf-8", errors="replace")
    # Skip the title block so the tokens are ordinary prose.
    text = text[2000:20000]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) < N_TOKENS:
        raise SystemExit(f"document {DOCUMENT} gives {len(ids)} tokens, need {N_TOKENS}")
    return torch.tensor([ids[:N_TOKENS]], dtype=torch.long)


class LayerRecorder:
    """Records the projections of one attention layer and what kvpress computed there."""

    def __init__(self, attn, layer: int):
        self.layer = layer
        self.tensors = {}
        self.handle = attn.register_forward_pre_hook(self.capture_projections, with_kwargs=True)

    def capture_projections(self, module, args, kwargs):
        hs = kwargs["hidden_states"]
        cos, sin = kwargs["position_embeddings"]
        n = hs.shape[1]
        d = module.head_dim
        with torch.no_grad():
            q = module.q_proj(hs).view(1, n, -1, d).transpose(1, 2)
            k = module.k_proj(hs).view(1, n, -1, d).transpose(1, 2)
            v = module.v_proj(hs).view(1, n, -1, d).transpose(1, 2)
            q_rope, k_rope = apply_rotary_pos_emb(q, k, cos, sin)
        self.tensors.update(k_raw=k, q_rope=q_rope, k_rope=k_rope, v=v)

    def instrument(self, press: CompactorPress):
        """Wrap the press's score functions to record this layer's scores and sketch."""
        recorder = self
        state = {"layer": None}

        lev = press._leverage_press
        lev_score, lev_compute = lev.score, lev.compute_leverage_scores
        attn_score = press._non_causal_press.score
        blend_score = press.score

        def compute_leverage_scores(key_states, sketch_dimension):
            if state["layer"] == recorder.layer:
                # Draw the sketch the same way kvpress does, then rewind the
                # generator so kvpress draws the identical matrix.
                rng = torch.get_rng_state()
                b, h, _, d = key_states.shape
                phi = torch.randn(b, h, d, sketch_dimension, dtype=key_states.dtype) * (
                    1 / math.sqrt(sketch_dimension)
                )
                torch.set_rng_state(rng)
                recorder.tensors["phi"] = phi
            return lev_compute(key_states, sketch_dimension)

        def wrap(name, fn):
            def wrapped(module, hidden_states, keys, values, attentions, kwargs):
                state["layer"] = module.layer_idx
                out = fn(
                    module=module,
                    hidden_states=hidden_states,
                    keys=keys,
                    values=values,
                    attentions=attentions,
                    kwargs=kwargs,
                )
                if module.layer_idx == recorder.layer:
                    recorder.tensors[name] = out.detach().clone()
                    if name == "blended":
                        recorder.tensors["cache_keys"] = keys.detach().clone()
                return out

            return wrapped

        lev.compute_leverage_scores = compute_leverage_scores
        lev.score = wrap("leverage", lev_score)
        press._non_causal_press.score = wrap("attention", attn_score)
        object.__setattr__(press, "score", wrap("blended", blend_score))

    def remove(self):
        self.handle.remove()


def run_press(model, ids, press, instrument_target) -> LayerRecorder:
    attn = model.model.layers[LAYER].self_attn
    recorder = LayerRecorder(attn, LAYER)
    recorder.instrument(instrument_target)
    torch.manual_seed(SEED)
    with torch.no_grad(), press(model):
        model(ids)
    recorder.remove()
    recorder.masked = getattr(attn, "masked_key_indices", None)
    if hasattr(attn, "masked_key_indices"):
        del attn.masked_key_indices
    return recorder


def to_gguf_order(x: torch.Tensor, perm: torch.Tensor) -> np.ndarray:
    """[1, heads, n, d] in HF order -> [n, heads, d] float32 in GGUF order."""
    return x[0][..., perm].transpose(0, 1).contiguous().numpy().astype(np.float32)


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
    model = AutoModelForCausalLM.from_pretrained(
        model_path.parent, gguf_file=model_path.name, dtype=torch.float32
    )
    model.eval()
    ids = load_tokens(tokenizer)

    head_dim = model.config.head_dim if hasattr(model.config, "head_dim") else (
        model.config.hidden_size // model.config.num_attention_heads
    )
    perm = gguf_permutation(head_dim)
    writer = GoldenWriter()
    runs = []

    for chunk in CHUNKS:
        press = CompactorPress(
            compression_ratio=RATIO,
            sink_size_start=SINK,
            sink_size_end=RECENT,
            chunk_size=chunk,
            sketch_dimension=SKETCH_DIM,
            blending=RATIO,
        )
        rec = run_press(model, ids, press, press)
        t = rec.tensors

        # The keys kvpress scores must be the post-RoPE keys recomputed here.
        key_error = (t["cache_keys"] - t["k_rope"]).abs().max().item()
        if key_error > 1e-4:
            raise SystemExit(f"recomputed post-RoPE keys differ from the cache by {key_error}")

        if not writer.arrays:
            first_phi = t["phi"]
            writer.add("q_rope", to_gguf_order(t["q_rope"], perm))
            writer.add("k_raw", to_gguf_order(t["k_raw"], perm))
            writer.add("k_rope", to_gguf_order(t["k_rope"], perm))
            writer.add("v", t["v"][0].transpose(0, 1).contiguous().numpy())

        tag = f"chunk{chunk}"
        # phi [1, n_head_kv, head_dim, k]; rows permuted into the GGUF order.
        writer.add(f"{tag}/phi", t["phi"][0][:, perm, :].numpy())
        writer.add(f"{tag}/leverage", t["leverage"][0].numpy())
        writer.add(f"{tag}/attention", t["attention"][0].numpy())
        writer.add(f"{tag}/blended", t["blended"][0].numpy())

        # Per-head selection exactly as ScorerPress.compress does it.
        n_kept = int(N_TOKENS * (1 - RATIO))
        kept = t["blended"][0].topk(n_kept, dim=-1).indices.sort(dim=-1).values
        runs.append({"chunk": chunk, "budget": "per_head", "kept": kept.tolist()})

    # Head-adaptive budgets: AdaKVPress around the same CompactorPress
    # (chunk 256), which masks the evicted entries instead of removing them.
    inner = CompactorPress(
        compression_ratio=RATIO,
        sink_size_start=SINK,
        sink_size_end=RECENT,
        chunk_size=CHUNKS[0],
        sketch_dimension=SKETCH_DIM,
        blending=RATIO,
    )
    rec = run_press(model, ids, AdaKVPress(press=inner, alpha_safeguard=HEAD_FLOOR), inner)
    _, heads, positions = rec.masked
    n_head_kv = rec.tensors["k_raw"].shape[1]
    kept = []
    for h in range(n_head_kv):
        evicted = set(positions[heads == h].tolist())
        kept.append([t for t in range(N_TOKENS) if t not in evicted])
    runs.append({"chunk": CHUNKS[0], "budget": "per_layer", "kept": kept})
    if not torch.equal(rec.tensors["phi"], first_phi):
        raise SystemExit("the per-layer run drew a different sketch than the per-head runs")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kvpress_compactor.bin").write_bytes(bytes(writer.blob))
    meta = {
        "source": "tools/kvpress_golden.py, kvpress 0.5.4 CompactorPress on SmolLM2-135M-Instruct Q4_1",
        "layer": LAYER,
        "n_tokens": N_TOKENS,
        "n_head": model.config.num_attention_heads,
        "n_head_kv": model.config.num_key_value_heads,
        "head_dim": head_dim,
        "sink": SINK,
        "recent": RECENT,
        "sketch_dim": SKETCH_DIM,
        "ratio": RATIO,
        "blend": RATIO,
        "head_floor": HEAD_FLOOR,
        "token_ids": ids[0].tolist(),
        "arrays": writer.arrays,
        "layouts": {
            "q_rope": "[n_tokens, n_head, head_dim], GGUF dimension order",
            "k_raw": "[n_tokens, n_head_kv, head_dim], pre-RoPE, GGUF dimension order",
            "k_rope": "[n_tokens, n_head_kv, head_dim], GGUF dimension order",
            "v": "[n_tokens, n_head_kv, head_dim]",
            "phi": "[n_head_kv, head_dim, sketch_dim], rows in GGUF dimension order",
            "leverage": "[n_head_kv, n_tokens - sink - recent], z-scored, protected tokens left out",
            "attention": "[n_head_kv, n_tokens - sink - recent], z-scored, protected tokens left out",
            "blended": "[n_head_kv, n_tokens], protected tokens padded with the maximum",
        },
        "runs": runs,
    }
    (out / "kvpress_compactor.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(writer.blob)} bytes to {out / 'kvpress_compactor.bin'}")


if __name__ == "__main__":
    main()
