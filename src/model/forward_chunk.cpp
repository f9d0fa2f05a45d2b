#include "model/forward_chunk.h"

#include <algorithm>
#include <cstring>

#include "model/attention.h"
#include "model/linear.h"
#include "model/rope.h"

namespace compactor {

namespace {

const float* bias_or_null(const std::vector<float>& bias) { return bias.empty() ? nullptr : bias.data(); }

void resize_scratch(const ModelConfig& c, int64_t n_tokens, ChunkScratch& s) {
    const auto n = static_cast<size_t>(n_tokens);
    const size_t n_q = static_cast<size_t>(c.n_head) * c.head_dim;
    const size_t n_kv = static_cast<size_t>(c.n_head_kv) * c.head_dim;
    s.x.resize(n * c.n_embd);
    s.xn.resize(n * c.n_embd);
    s.q.resize(n * n_q);
    s.k.resize(n * n_kv);
    s.q_raw.resize(n * n_q);
    s.k_raw.resize(n * n_kv);
    s.v.resize(n * n_kv);
    s.attn.resize(n * n_q);
    s.proj.resize(n * c.n_embd);
    s.gate.resize(n * c.n_ff);
    s.up.resize(n * c.n_ff);
}

void attention_block(const ModelConfig& c, const LayerWeights& w, int il, int64_t n_tokens,
                     const RopeTable& rope, KvCache& cache, PrefillObserver* observer, ThreadPool& pool,
                     ChunkScratch& s) {
    const int64_t n_q = static_cast<int64_t>(c.n_head) * c.head_dim;
    const int64_t n_kv = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
    const int64_t pos0 = cache.next_pos();

    // Attention norm
    rms_norm(s.x.data(), w.attn_norm.data(), n_tokens, c.n_embd, c.rms_norm_eps, s.xn.data(), pool);

    // Q/K/V projections
    linear(s.xn.data(), n_tokens, w.wq, bias_or_null(w.bq), s.q.data(), pool);
    linear(s.xn.data(), n_tokens, w.wk, bias_or_null(w.bk), s.k.data(), pool);
    linear(s.xn.data(), n_tokens, w.wv, bias_or_null(w.bv), s.v.data(), pool);

    // RoPE on queries and keys; scorers also need them before it
    if (observer != nullptr) {
        std::copy_n(s.q.data(), n_tokens * n_q, s.q_raw.data());
        std::copy_n(s.k.data(), n_tokens * n_kv, s.k_raw.data());
    }
    apply_rope(s.q.data(), n_tokens, c.n_head, c.head_dim, c.rope_mode, rope);
    apply_rope(s.k.data(), n_tokens, c.n_head_kv, c.head_dim, c.rope_mode, rope);

    // Observer hook, before the keys join the cache
    if (observer != nullptr) {
        LayerChunk chunk;
        chunk.il = il;
        chunk.pos0 = pos0;
        chunk.n_tokens = n_tokens;
        chunk.n_head = c.n_head;
        chunk.n_head_kv = c.n_head_kv;
        chunk.head_dim = c.head_dim;
        chunk.q_raw = s.q_raw.data();
        chunk.q_rope = s.q.data();
        chunk.k_raw = s.k_raw.data();
        chunk.k_rope = s.k.data();
        chunk.v = s.v.data();
        chunk.pool = &pool;
        observer->observe(chunk);
    }

    // Cache append, then causal attention over each head's rows
    cache.append(il, s.k.data(), s.v.data(), n_tokens, pos0);
    attend_chunk(s.q.data(), n_tokens, c.n_head, cache, il, s.attn.data(), pool);

    // Output projection and residual
    linear(s.attn.data(), n_tokens, w.wo, nullptr, s.proj.data(), pool);
    add_in_place(s.x.data(), s.proj.data(), n_tokens * c.n_embd, pool);
}

void mlp_block(const ModelConfig& c, const LayerWeights& w, int64_t n_tokens, ThreadPool& pool,
               ChunkScratch& s) {
    // FFN norm
    rms_norm(s.x.data(), w.ffn_norm.data(), n_tokens, c.n_embd, c.rms_norm_eps, s.xn.data(), pool);

    // SwiGLU: down(silu(gate(x)) · up(x))
    linear(s.xn.data(), n_tokens, w.w_gate, nullptr, s.gate.data(), pool);
    linear(s.xn.data(), n_tokens, w.w_up, nullptr, s.up.data(), pool);
    swiglu(s.gate.data(), s.up.data(), n_tokens * c.n_ff, pool);
    linear(s.gate.data(), n_tokens, w.w_down, nullptr, s.proj.data(), pool);

    // Residual
    add_in_place(s.x.data(), s.proj.data(), n_tokens * c.n_embd, pool);
}

}  // namespace

void forward_chunk(const ModelConfig& config, const ModelWeights& weights,
                   std::span<const int32_t> tokens, KvCache& cache, PrefillObserver* observer,
                   ThreadPool& pool, ChunkScratch& scratch) {
    const auto n_tokens = static_cast<int64_t>(tokens.size());
    const size_t n_embd = static_cast<size_t>(config.n_embd);
    resize_scratch(config, n_tokens, scratch);

    // Token embedding
    for (int64_t t = 0; t < n_tokens; ++t) {
        const int64_t id = tokens[static_cast<size_t>(t)];
        weights.token_embd.dequantize_rows(id, id + 1, scratch.x.data() + static_cast<size_t>(t) * n_embd);
    }

    // Layers; every layer rotates the same positions, so one RoPE table serves all
    const RopeTable rope = make_rope_table(cache.next_pos(), n_tokens, config.n_rot,
                                           config.rope_freq_base, weights.rope_freqs);
    for (int il = 0; il < config.n_layer; ++il) {
        const LayerWeights& w = weights.layers[static_cast<size_t>(il)];
        attention_block(config, w, il, n_tokens, rope, cache, observer, pool, scratch);
        mlp_block(config, w, n_tokens, pool, scratch);
    }
    cache.advance(n_tokens);

    // Output norm
    rms_norm(scratch.x.data(), weights.output_norm.data(), n_tokens, config.n_embd,
             config.rms_norm_eps, scratch.xn.data(), pool);
}

}  // namespace compactor
