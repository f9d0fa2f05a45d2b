// Synthetic prefill data for the compression unit tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "compress/compressor.h"
#include "model/thread_pool.h"

namespace compactor::test {

// One layer's projections for n_tokens tokens, token-major like LayerChunk.
struct SyntheticLayer {
    std::vector<float> q_rope;  // [n_tokens × n_head × head_dim]
    std::vector<float> k_raw;   // [n_tokens × n_head_kv × head_dim]
    std::vector<float> k_rope;  // [n_tokens × n_head_kv × head_dim]
    std::vector<float> v;       // [n_tokens × n_head_kv × head_dim]
};

// Keys lie near a rank-`rank` subspace with a few large outliers, so that
// leverage scores spread out; queries and values are Gaussian.
inline SyntheticLayer make_layer(const ModelShape& shape, int64_t n_tokens, uint32_t seed, int rank = 4) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const size_t d = static_cast<size_t>(shape.head_dim);
    const size_t n = static_cast<size_t>(n_tokens);
    SyntheticLayer l;

    l.q_rope.resize(n * static_cast<size_t>(shape.n_head) * d);
    for (float& x : l.q_rope) x = 0.5f * normal(gen);
    l.v.resize(n * static_cast<size_t>(shape.n_head_kv) * d);
    for (float& x : l.v) x = normal(gen);

    l.k_raw.resize(n * static_cast<size_t>(shape.n_head_kv) * d);
    for (int h = 0; h < shape.n_head_kv; ++h) {
        std::vector<float> basis(static_cast<size_t>(rank) * d);  // [rank × d]
        for (float& x : basis) x = normal(gen);
        for (size_t t = 0; t < n; ++t) {
            float* key = l.k_raw.data() + (t * static_cast<size_t>(shape.n_head_kv) + static_cast<size_t>(h)) * d;
            const float scale = (t % 37 == 5) ? 6.0f : 1.0f;
            for (int r = 0; r < rank; ++r) {
                const float z = scale * normal(gen);
                for (size_t c = 0; c < d; ++c) key[c] += z * basis[static_cast<size_t>(r) * d + c];
            }
            for (size_t c = 0; c < d; ++c) key[c] += 0.05f * normal(gen) + 2.0f;  // noise and a shared offset
        }
    }
    // A stand-in for RoPE: any post-RoPE keys do for scoring tests.
    l.k_rope = l.k_raw;
    for (size_t i = 0; i < l.k_rope.size(); ++i) l.k_rope[i] = 0.3f * l.k_rope[i] + 0.2f * normal(gen);
    return l;
}

// The LayerChunk of layer il covering tokens [t0, t0 + n) of `l`.
inline LayerChunk chunk_of(const ModelShape& shape, const SyntheticLayer& l, int il, int64_t t0, int64_t n,
                           ThreadPool* pool = nullptr) {
    const size_t q_width = static_cast<size_t>(shape.n_head) * shape.head_dim;
    const size_t kv_width = static_cast<size_t>(shape.n_head_kv) * shape.head_dim;
    LayerChunk c;
    c.il = il;
    c.pos0 = t0;
    c.n_tokens = n;
    c.n_head = shape.n_head;
    c.n_head_kv = shape.n_head_kv;
    c.head_dim = shape.head_dim;
    c.q_rope = l.q_rope.data() + static_cast<size_t>(t0) * q_width;
    c.k_raw = l.k_raw.data() + static_cast<size_t>(t0) * kv_width;
    c.k_rope = l.k_rope.data() + static_cast<size_t>(t0) * kv_width;
    c.v = l.v.data() + static_cast<size_t>(t0) * kv_width;
    c.pool = pool;
    return c;
}

// Feed every layer in prefill chunks of `step` tokens, layers in order within
// each chunk as the forward pass does. layers[il] is the data of layer il.
// Chunks carry `pool` as the forward pass's would.
inline void feed_model(PrefillObserver& observer, const ModelShape& shape, const std::vector<SyntheticLayer>& layers,
                       int64_t n_tokens, int64_t step, ThreadPool* pool = nullptr) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += step) {
        for (int il = 0; il < shape.n_layer; ++il) {
            observer.observe(
                chunk_of(shape, layers[static_cast<size_t>(il)], il, t0, std::min(step, n_tokens - t0), pool));
        }
    }
}

// Synthetic data for every layer of `shape`, layer il seeded with seed + il.
inline std::vector<SyntheticLayer> make_model(const ModelShape& shape, int64_t n_tokens, uint32_t seed) {
    std::vector<SyntheticLayer> layers;
    for (int il = 0; il < shape.n_layer; ++il)
        layers.push_back(make_layer(shape, n_tokens, seed + static_cast<uint32_t>(il)));
    return layers;
}

}  // namespace compactor::test
