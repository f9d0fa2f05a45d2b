#include "compress/zscore.h"

#include <algorithm>
#include <cmath>

namespace compactor {

void zscore_layer(std::vector<float>& scores, int n_head_kv, int64_t n_tokens, ScoredRange range) {
    const int64_t count = static_cast<int64_t>(n_head_kv) * range.size();

    double sum = 0.0;
    for (int h = 0; h < n_head_kv; ++h) {
        for (int64_t t = range.begin; t < range.end; ++t) sum += scores[static_cast<size_t>(h * n_tokens + t)];
    }
    const double mean = count > 0 ? sum / static_cast<double>(count) : 0.0;

    // Two passes: the squared deviations are summed after the mean is known,
    // which stays accurate when the scores share a large offset.
    double squares = 0.0;
    for (int h = 0; h < n_head_kv; ++h) {
        for (int64_t t = range.begin; t < range.end; ++t) {
            const double dev = scores[static_cast<size_t>(h * n_tokens + t)] - mean;
            squares += dev * dev;
        }
    }
    const double std_dev = count > 1 ? std::sqrt(squares / static_cast<double>(count - 1)) : 0.0;
    const double scale = 1.0 / std::max(std_dev, 1e-6);

    for (int h = 0; h < n_head_kv; ++h) {
        for (int64_t t = 0; t < n_tokens; ++t) {
            float& x = scores[static_cast<size_t>(h * n_tokens + t)];
            x = range.contains(t) ? static_cast<float>((x - mean) * scale) : 0.0f;
        }
    }
}

}  // namespace compactor
