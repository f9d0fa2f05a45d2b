// Rotary position embedding (RoPE) as ggml applies it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/config.h"

namespace compactor {

// cos and sin of θ = pos · freq_base^(−2i/n_rot) / divisor[i] for the pairs i
// of n_tokens consecutive positions.
struct RopeTable {
    int n_pairs = 0;         // n_rot / 2
    std::vector<float> cos;  // [n_tokens × n_pairs]
    std::vector<float> sin;  // [n_tokens × n_pairs]
};

// Table for positions pos0 .. pos0 + n_tokens − 1. `freq_divisors` is
// [n_rot / 2] (rope_freqs.weight) or empty for none.
RopeTable make_rope_table(int64_t pos0, int64_t n_tokens, int n_rot, float freq_base,
                          std::span<const float> freq_divisors);

// Rotate the first n_rot dims of every head of x [n_tokens × n_heads × head_dim]
// in place. normal mode pairs (x[2i], x[2i+1]); neox mode pairs (x[i], x[i + n_rot/2]).
void apply_rope(float* x, int64_t n_tokens, int n_heads, int head_dim, RopeMode mode,
                const RopeTable& table);

}  // namespace compactor
