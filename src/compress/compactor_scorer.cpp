#include "compress/compactor_scorer.h"

namespace compactor {

CompactorScorer::CompactorScorer(const CompressionOptions& options, const ModelShape& shape)
    : blend_(options.blend), leverage_(options, shape), attention_(options, shape) {}

void CompactorScorer::observe(const LayerChunk& chunk) {
    leverage_.observe(chunk);
    attention_.observe(chunk);
}

ScoreSet CompactorScorer::finalize() {
    leverage_z_ = leverage_.finalize();
    attention_z_ = attention_.finalize();

    // Protected tokens are 0 in both parts, so they stay 0 here.
    ScoreSet blended = attention_z_;
    for (size_t il = 0; il < blended.scores.size(); ++il) {
        std::vector<float>& out = blended.scores[il];
        const std::vector<float>& lev = leverage_z_.scores[il];
        for (size_t i = 0; i < out.size(); ++i) {
            out[i] = static_cast<float>(out[i] + blend_ * lev[i]);
        }
    }
    return blended;
}

}  // namespace compactor
