// Attention of a single new token (a decode step), split over key ranges.
#pragma once

#include <cstdint>

#include "kv/kv_cache.h"
#include "model/thread_pool.h"

namespace compactor {

// attend_chunk() for n_tokens = 1: out [n_head × head_dim] from q
// [n_head × head_dim] over every row of layer il (the token's own row is the
// last one of each head).
//
// Decode reads the whole cache once per token. This path therefore reads
// each KV head's keys and values once for all query heads of its group. It
// splits the rows into ranges, so every thread streams a share of the cache.
// Each range keeps its own softmax maximum and sum, and the merge rescales
// every range by exp(its maximum − the overall maximum).
void attend_one_token(const float* q, int n_head, const KvCache& cache, int il, float* out, ThreadPool& pool);

}  // namespace compactor
