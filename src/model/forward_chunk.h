// One prefill or decode chunk through every layer of the transformer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/prefill_observer.h"
#include "model/thread_pool.h"
#include "model/weights.h"

namespace compactor {

// Activation buffers of one chunk, sized on first use and reused by later
// chunks of the same forward() call.
struct ChunkScratch {
    std::vector<float> x;       // [n_tokens × n_embd] residual stream
    std::vector<float> xn;      // [n_tokens × n_embd] normalized input of a block
    std::vector<float> q;       // [n_tokens × n_head × head_dim]
    std::vector<float> k;       // [n_tokens × n_head_kv × head_dim]
    std::vector<float> q_raw;   // [n_tokens × n_head × head_dim] queries before RoPE (observer only)
    std::vector<float> k_raw;   // [n_tokens × n_head_kv × head_dim] keys before RoPE (observer only)
    std::vector<float> v;       // [n_tokens × n_head_kv × head_dim]
    std::vector<float> attn;    // [n_tokens × n_head × head_dim] attention output
    std::vector<float> proj;    // [n_tokens × n_embd] output of a block's last projection
    std::vector<float> gate;    // [n_tokens × n_ff]
    std::vector<float> up;      // [n_tokens × n_ff]
};

// Run `tokens` at positions cache.next_pos() onwards: embed, every layer
// (appending keys and values to `cache` and calling `observer` when set),
// final norm. Leaves the normalized hidden states [n_tokens × n_embd] in
// scratch.xn and advances the cache by n_tokens.
void forward_chunk(const ModelConfig& config, const ModelWeights& weights,
                   std::span<const int32_t> tokens, KvCache& cache, PrefillObserver* observer,
                   ThreadPool& pool, ChunkScratch& scratch);

}  // namespace compactor
