#include "compress/keydiff_scorer.h"

#include <algorithm>
#include <cmath>

#include "compress/scorer_registry.h"
#include "compress/vector_math.h"

namespace compactor {

namespace {

// torch's floors: F.normalize divides by max(‖x‖, 1e-12) and
// F.cosine_similarity by the product of max(‖x‖, 1e-8), so zero keys score 0.
constexpr double kNormalizeFloor = 1e-12;
constexpr double kCosineFloor = 1e-8;

// −cos(k_t, anchor) for every row of keys [n_tokens × d].
void score_head(const float* keys, int64_t n_tokens, int d, std::vector<double>& sum, std::vector<float>& anchor,
                float* scores) {
    const size_t width = static_cast<size_t>(d);
    sum.assign(width, 0.0);
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* k = keys + static_cast<size_t>(t) * width;
        const double inv = 1.0 / std::max(std::sqrt(squared_norm(k, d)), kNormalizeFloor);
        for (size_t c = 0; c < width; ++c) sum[c] += k[c] * inv;
    }
    anchor.resize(width);
    for (size_t c = 0; c < width; ++c) anchor[c] = static_cast<float>(sum[c] / static_cast<double>(n_tokens));
    const double anchor_norm = std::max(std::sqrt(squared_norm(anchor.data(), d)), kCosineFloor);

    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* k = keys + static_cast<size_t>(t) * width;
        const double key_norm = std::max(std::sqrt(squared_norm(k, d)), kCosineFloor);
        scores[t] = static_cast<float>(-dot(k, anchor.data(), d) / (key_norm * anchor_norm));
    }
}

}  // namespace

KeyDiffScorer::KeyDiffScorer(const CompressionOptions& options, const ModelShape& shape)
    : shape_(shape), observed_(shape, "KeyDiffScorer") {
    validate(options);
}

ScoreSet KeyDiffScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = observed_.check_cache(cache);
    std::vector<double> sum;
    std::vector<float> anchor;

    ScoreSet out;
    out.n_tokens = n_tokens;
    out.scores.resize(static_cast<size_t>(shape_.n_layer));
    if (n_tokens == 0) return out;
    for (int il = 0; il < shape_.n_layer; ++il) {
        std::vector<float>& layer = out.scores[static_cast<size_t>(il)];
        layer.resize(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens));
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            score_head(cache.keys(il, h).data(), n_tokens, shape_.head_dim, sum, anchor,
                       layer.data() + static_cast<size_t>(h) * static_cast<size_t>(n_tokens));
        }
    }
    return out;
}

std::unique_ptr<Scorer> make_keydiff_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<KeyDiffScorer>(options, shape);
}

}  // namespace compactor
