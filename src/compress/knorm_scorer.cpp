#include "compress/knorm_scorer.h"

#include <cmath>

#include "compress/scorer_registry.h"
#include "compress/vector_math.h"

namespace compactor {

KnormScorer::KnormScorer(const CompressionOptions& options, const ModelShape& shape)
    : shape_(shape), observed_(shape, "KnormScorer") {
    validate(options);
}

ScoreSet KnormScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = observed_.check_cache(cache);
    const size_t d = static_cast<size_t>(shape_.head_dim);

    ScoreSet out;
    out.n_tokens = n_tokens;
    out.scores.resize(static_cast<size_t>(shape_.n_layer));
    for (int il = 0; il < shape_.n_layer; ++il) {
        std::vector<float>& layer = out.scores[static_cast<size_t>(il)];
        layer.resize(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens));
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            const float* keys = cache.keys(il, h).data();
            float* scores = layer.data() + static_cast<size_t>(h) * static_cast<size_t>(n_tokens);
            for (int64_t t = 0; t < n_tokens; ++t) {
                const double norm2 = squared_norm(keys + static_cast<size_t>(t) * d, shape_.head_dim);
                scores[t] = static_cast<float>(-std::sqrt(norm2));
            }
        }
    }
    return out;
}

std::unique_ptr<Scorer> make_knorm_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<KnormScorer>(options, shape);
}

}  // namespace compactor
