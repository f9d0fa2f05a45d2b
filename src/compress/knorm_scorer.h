// Key-norm scores: keys with a small L2 norm are kept.
#pragma once

#include "compress/compressor.h"
#include "compress/observed_tokens.h"

namespace compactor {

// Devoto et al., "A Simple and Effective L2 Norm-Based Strategy for KV Cache
// Compression" (arXiv 2406.11430), as kvpress 0.5.4 KnormPress scores it:
// s_t = −‖k_t‖ on the cache's post-RoPE keys (RoPE preserves the norm).
//
// Departure from kvpress: compress() always keeps the first `sink` and the
// last `recent` tokens, which KnormPress does not protect. With sink and
// recent 0 the kept sets are KnormPress's.
class KnormScorer : public Scorer {
public:
    KnormScorer(const CompressionOptions& options, const ModelShape& shape);

    // Only counts tokens: the keys are read from the cache at finalize().
    void observe(const LayerChunk& chunk) override { observed_.observe(chunk); }
    ScoreSet finalize(const KvCache& cache) override;

private:
    ModelShape shape_;
    ObservedTokens observed_;
};

}  // namespace compactor
