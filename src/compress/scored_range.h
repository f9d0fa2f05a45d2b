// The context tokens that take part in scoring: all but the protected ones.
#pragma once

#include <algorithm>
#include <cstdint>

namespace compactor {

// Token indices [begin, end) of a context of n_tokens that are scored. The
// first `sink` and the last `recent` tokens are protected: always kept and
// left out of every statistic. For short contexts the sink is served first
// and the recent window gets what remains, as kvpress 0.5.4 clamps them.
struct ScoredRange {
    int64_t begin = 0;
    int64_t end = 0;

    int64_t size() const { return end - begin; }
    bool contains(int64_t t) const { return t >= begin && t < end; }
};

inline ScoredRange scored_range(int64_t n_tokens, int sink, int recent) {
    const int64_t left = std::min<int64_t>(sink, n_tokens);
    const int64_t right = std::min<int64_t>(recent, n_tokens - left);
    return {left, n_tokens - right};
}

}  // namespace compactor
