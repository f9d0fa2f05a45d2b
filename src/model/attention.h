// Causal grouped-query attention of a chunk's queries over a layer's KV cache.
#pragma once

#include <cstdint>

#include "kv/kv_cache.h"
#include "model/thread_pool.h"

namespace compactor {

// out [n_tokens × n_head × head_dim] = softmax(q · Kᵀ / sqrt(head_dim)) · V per
// query head, with K and V the rows of KV head h / (n_head / n_head_kv) of
// layer il. q is [n_tokens × n_head × head_dim] after RoPE.
//
// Invariant: the chunk's own keys and values are the last n_tokens rows of
// every head (appended just before), so query i attends to the rows up to and
// including row length − n_tokens + i. Heads may have different lengths.
void attend_chunk(const float* q, int64_t n_tokens, int n_head, const KvCache& cache, int il,
                  float* out, ThreadPool& pool);

}  // namespace compactor
