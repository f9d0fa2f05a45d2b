#include "compress/tova_scorer.h"

#include <algorithm>
#include <limits>

#include "compress/scorer_registry.h"

namespace compactor {

TovaScorer::TovaScorer(const CompressionOptions& options, const ModelShape& shape)
    : shape_(shape), observed_(shape, "TovaScorer"), queries_(shape, 1) {
    validate(options);
}

void TovaScorer::observe(const LayerChunk& chunk) {
    observed_.observe(chunk);
    queries_.observe(chunk);
}

void TovaScorer::score_layer(const KvCache& cache, int il, int64_t n_tokens, std::vector<float>& layer) {
    const int d = shape_.head_dim;
    const int n_group = shape_.n_head / shape_.n_head_kv;
    const int64_t n_scored = n_tokens - 1;  // every token but the last
    queries_.head_major(il, 1, head_major_);

    // Attention of every query head of the layer, each over its KV head's
    // keys, summed into one vector.
    sums_.assign(static_cast<size_t>(n_tokens), 0.0f);
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        add_window_attention(head_major_.data() + static_cast<size_t>(h) * n_group * d, n_group, 1,
                             cache.keys(il, h).data(), n_tokens, d, workspace_, sums_);
    }

    std::vector<float> shared(static_cast<size_t>(n_tokens));
    float layer_max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n_scored; ++j) {
        shared[static_cast<size_t>(j)] = sums_[static_cast<size_t>(j)] / static_cast<float>(shape_.n_head);
        layer_max = std::max(layer_max, shared[static_cast<size_t>(j)]);
    }
    shared[static_cast<size_t>(n_scored)] = n_scored > 0 ? layer_max + 1.0f : 1.0f;

    layer.clear();
    for (int h = 0; h < shape_.n_head_kv; ++h) layer.insert(layer.end(), shared.begin(), shared.end());
}

ScoreSet TovaScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = observed_.check_cache(cache);

    ScoreSet out;
    out.n_tokens = n_tokens;
    out.scores.resize(static_cast<size_t>(shape_.n_layer));
    if (n_tokens == 0) return out;
    for (int il = 0; il < shape_.n_layer; ++il) score_layer(cache, il, n_tokens, out.scores[static_cast<size_t>(il)]);
    return out;
}

std::unique_ptr<Scorer> make_tova_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<TovaScorer>(options, shape);
}

}  // namespace compactor
