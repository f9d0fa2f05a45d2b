#include "compress/snapkv_scorer.h"

#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

#include "compress/scorer_registry.h"

namespace compactor {

SnapKvScorer::SnapKvScorer(const CompressionOptions& options, const ModelShape& shape)
    : options_(options), shape_(shape), observed_(shape, "SnapKvScorer"), queries_(shape, options.window) {
    validate(options);
}

void SnapKvScorer::observe(const LayerChunk& chunk) {
    observed_.observe(chunk);
    queries_.observe(chunk);
}

void SnapKvScorer::score_layer(const KvCache& cache, int il, int64_t n_tokens, std::vector<float>& layer) {
    const int d = shape_.head_dim;
    const int n_group = shape_.n_head / shape_.n_head_kv;
    const int64_t n_query = std::min<int64_t>(options_.window, n_tokens - 1);
    const int64_t n_scored = n_tokens - n_query;  // keys before the window
    const int64_t half = options_.pool_kernel / 2;
    layer.assign(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens), 0.0f);
    queries_.head_major(il, n_query, head_major_);

    float layer_max = -std::numeric_limits<float>::infinity();
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        // Attention summed over the window's queries of every head in the
        // group. The group's heads are adjacent in head_major_, so their
        // queries stack into one matrix of n_group · n_query rows.
        sums_.assign(static_cast<size_t>(n_tokens), 0.0f);
        if (n_query > 0) {
            const float* group_queries = head_major_.data() + static_cast<size_t>(h) * n_group * n_query * d;
            add_window_attention(group_queries, n_group * n_query, n_query, cache.keys(il, h).data(), n_tokens, d,
                                 workspace_, sums_);
        }

        // Mean over queries and heads, then the moving average over j < n − w.
        const double mean_divisor =
            static_cast<double>(std::max<int64_t>(n_query, 1)) * n_group * options_.pool_kernel;
        float* out = layer.data() + static_cast<size_t>(h) * static_cast<size_t>(n_tokens);
        for (int64_t j = 0; j < n_scored; ++j) {
            double window_sum = 0.0;
            for (int64_t i = std::max<int64_t>(0, j - half); i <= std::min(n_scored - 1, j + half); ++i) {
                window_sum += sums_[static_cast<size_t>(i)];
            }
            out[j] = static_cast<float>(window_sum / mean_divisor);
            layer_max = std::max(layer_max, out[j]);
        }
    }

    // The window's own tokens score above every other token of the layer.
    const float window_score = layer_max + 1.0f;
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        float* out = layer.data() + static_cast<size_t>(h) * static_cast<size_t>(n_tokens);
        std::fill(out + (n_tokens - n_query), out + n_tokens, window_score);
    }
}

ScoreSet SnapKvScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = observed_.check_cache(cache);

    ScoreSet out;
    out.n_tokens = n_tokens;
    out.scores.resize(static_cast<size_t>(shape_.n_layer));
    if (n_tokens == 0) return out;
    for (int il = 0; il < shape_.n_layer; ++il) score_layer(cache, il, n_tokens, out.scores[static_cast<size_t>(il)]);

    spdlog::debug("SnapKvScorer: scored {} tokens in {} layers with a window of {} queries", n_tokens,
                  shape_.n_layer, std::min<int64_t>(options_.window, n_tokens - 1));
    return out;
}

std::unique_ptr<Scorer> make_snapkv_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<SnapKvScorer>(options, shape);
}

}  // namespace compactor
