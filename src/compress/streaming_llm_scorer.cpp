#include "compress/streaming_llm_scorer.h"

#include "compress/scorer_registry.h"

namespace compactor {

StreamingLlmScorer::StreamingLlmScorer(const CompressionOptions& options, const ModelShape& shape)
    : shape_(shape), observed_(shape, "StreamingLlmScorer") {
    validate(options);
}

ScoreSet StreamingLlmScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = observed_.check_cache(cache);

    std::vector<float> layer(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens));
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        for (int64_t t = 0; t < n_tokens; ++t) layer[static_cast<size_t>(h * n_tokens + t)] = static_cast<float>(t);
    }

    ScoreSet out;
    out.n_tokens = n_tokens;
    out.scores.assign(static_cast<size_t>(shape_.n_layer), layer);
    return out;
}

std::unique_ptr<Scorer> make_streaming_llm_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<StreamingLlmScorer>(options, shape);
}

}  // namespace compactor
