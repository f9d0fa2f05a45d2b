// Z-score normalization of one layer's scores.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/scored_range.h"

namespace compactor {

// Normalize scores [n_head_kv × n_tokens] in place to z-scores over the scored
// tokens of all heads together: (x − mean) / max(std, 1e-6), std with n − 1 in
// the denominator, as kvpress 0.5.4 does (torch.std). Protected tokens take
// no part and are set to 0.
void zscore_layer(std::vector<float>& scores, int n_head_kv, int64_t n_tokens, ScoredRange range);

}  // namespace compactor
