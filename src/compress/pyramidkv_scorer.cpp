#include "compress/pyramidkv_scorer.h"

#include <algorithm>
#include <cmath>

#include "compress/scorer_registry.h"

namespace compactor {

std::vector<int64_t> pyramid_layer_keep(int64_t n_tokens, int64_t n_keep, int n_layer, int window, double beta) {
    const std::vector<int64_t> uniform(static_cast<size_t>(std::max(n_layer, 0)), n_keep);
    const double n = static_cast<double>(n_tokens);
    const double keep = static_cast<double>(n_keep);
    const double w = static_cast<double>(window);

    double low = keep / beta;
    double high = 2.0 * keep - low;
    if (high >= n - w) {
        high = n - w;
        low = 2.0 * keep - high;
    }
    if (n_layer < 2 || !(n >= high && high >= low && low >= w)) return uniform;

    const double step = (high - low) / static_cast<double>(n_layer - 1);
    std::vector<int64_t> keep_per_layer(static_cast<size_t>(n_layer));
    for (int il = 0; il < n_layer; ++il) {
        // nearbyint rounds half to even in the default rounding mode.
        keep_per_layer[static_cast<size_t>(il)] = static_cast<int64_t>(std::nearbyint(high - il * step));
    }
    return keep_per_layer;
}

PyramidKvScorer::PyramidKvScorer(const CompressionOptions& options, const ModelShape& shape)
    : n_layer_(shape.n_layer), window_(options.window), beta_(options.pyramid_beta), snapkv_(options, shape) {}

ScoreSet PyramidKvScorer::finalize(const KvCache& cache) {
    ScoreSet scores = snapkv_.finalize(cache);
    scores.layer_keep = [n_layer = n_layer_, window = window_, beta = beta_](int64_t n_tokens, int64_t n_keep) {
        return pyramid_layer_keep(n_tokens, n_keep, n_layer, window, beta);
    };
    return scores;
}

std::unique_ptr<Scorer> make_pyramidkv_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<PyramidKvScorer>(options, shape);
}

}  // namespace compactor
