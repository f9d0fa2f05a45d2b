// Choosing the rows to keep from one layer's scores.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compress/compressor.h"
#include "compress/scored_range.h"

namespace compactor {

// Kept token indices per KV head, each list strictly increasing.
using KeptRows = std::vector<std::vector<int64_t>>;

// Tokens kept per head: round((1 − ratio) · n_tokens), at least the protected
// count because protected tokens are always kept and count inside it.
int64_t keep_count(int64_t n_tokens, double ratio, ScoredRange range);

// Keep the protected tokens and the top n_keep − n_protected scored tokens
// of each head. scores [n_head_kv × n_tokens]. Ties go to the lower index.
KeptRows select_per_head(std::span<const float> scores, int n_head_kv, int64_t n_tokens, int64_t n_keep,
                         ScoredRange range);

// Keep n_head_kv · n_keep rows in the layer. Every head first keeps its
// protected tokens and its top tokens up to floor(head_floor · n_keep) rows,
// protected ones included. The rest of the budget goes to the top scores of
// all heads together. Ties go to the lower head, then the lower index.
KeptRows select_per_layer(std::span<const float> scores, int n_head_kv, int64_t n_tokens, int64_t n_keep,
                          ScoredRange range, double head_floor);

}  // namespace compactor
