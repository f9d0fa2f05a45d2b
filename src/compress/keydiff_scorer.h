// KeyDiff scores: keys least similar to the head's average direction are kept.
#pragma once

#include "compress/compressor.h"
#include "compress/observed_tokens.h"

namespace compactor {

// Park et al., "KeyDiff: Key Similarity-Based KV Cache Eviction for
// Long-Context LLM Inference in Resource-Constrained Environments" (arXiv
// 2504.15364), as kvpress 0.5.4 KeyDiffPress scores it: per KV head the
// anchor a is the mean of the unit-normalized post-RoPE keys of all tokens,
// and s_t = −cos(k_t, a). The whole context is scored at once, like
// KeyDiffPress; the paper's block-wise eviction is not reproduced.
//
// Departure from kvpress: compress() always keeps the first `sink` and the
// last `recent` tokens, which KeyDiffPress does not protect. The anchor still
// averages every token, protected ones included, as KeyDiffPress does.
class KeyDiffScorer : public Scorer {
public:
    KeyDiffScorer(const CompressionOptions& options, const ModelShape& shape);

    // Only counts tokens: the keys are read from the cache at finalize().
    void observe(const LayerChunk& chunk) override { observed_.observe(chunk); }
    ScoreSet finalize(const KvCache& cache) override;

private:
    ModelShape shape_;
    ObservedTokens observed_;
};

}  // namespace compactor
