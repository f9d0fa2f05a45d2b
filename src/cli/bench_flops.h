// Floating-point operation counts of the forward pass, for achieved FLOP/s.
#pragma once

#include <cstdint>

#include "model/config.h"

namespace compactor::cli {

// Counts the useful FLOPs of one prefill of n_tokens from an empty cache,
// with one multiply-add counted as 2. Per token and layer it counts the Q, K,
// V and O projections and the three MLP matrices. Causal attention counts QKᵀ
// and PV over the i + 1 keys that token i attends to, per query head. The
// output head counts for the last token only, because prefill computes no
// other logits. Norms, RoPE, softmax and the scorer are left out.
// NOTE: leaving those out is an estimate that they cost a few percent at most.
inline double prefill_flop(const ModelConfig& c, int64_t n_tokens) {
    const double n = static_cast<double>(n_tokens);
    const double q_width = static_cast<double>(c.n_head) * c.head_dim;
    const double kv_width = static_cast<double>(c.n_head_kv) * c.head_dim;
    const double projections = 2.0 * c.n_embd * (2.0 * q_width + 2.0 * kv_width);
    const double mlp = 2.0 * 3.0 * c.n_embd * static_cast<double>(c.n_ff);
    const double attention = 4.0 * c.n_head * static_cast<double>(c.head_dim) * n * (n + 1.0) / 2.0;
    const double output_head = 2.0 * c.n_embd * static_cast<double>(c.n_vocab);
    return c.n_layer * ((projections + mlp) * n + attention) + output_head;
}

}  // namespace compactor::cli
