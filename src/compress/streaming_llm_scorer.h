// StreamingLLM scores: the attention sink and the most recent tokens are kept.
#pragma once

#include "compress/compressor.h"
#include "compress/observed_tokens.h"

namespace compactor {

// Xiao et al., "Efficient Streaming Language Models with Attention Sinks"
// (arXiv 2309.17453). The score of token t is its position t, so selection
// keeps the latest tokens, and compress() keeps the first `sink` tokens by
// mask: together the sink and a recent window of the budget's length. Every
// KV head of every layer gets the same scores, so per_head and per_layer
// budgets keep the same tokens. Scores are exact up to 2²⁴ tokens.
//
// kvpress 0.5.4 StreamingLLMPress protects its own n_sink first tokens (4 by
// default) and scores the rest 1 except a run of 0 after the sink. Its kept
// set equals this scorer's with sink = n_sink and recent = 0, but its scores
// are not comparable. As in kvpress, keys keep the positions they were
// rotated with; the paper re-rotates them (kvpress KeyRerotationPress).
class StreamingLlmScorer : public Scorer {
public:
    StreamingLlmScorer(const CompressionOptions& options, const ModelShape& shape);

    // Only counts tokens, so that finalize() can check the cache.
    void observe(const LayerChunk& chunk) override { observed_.observe(chunk); }
    ScoreSet finalize(const KvCache& cache) override;

private:
    ModelShape shape_;
    ObservedTokens observed_;
};

}  // namespace compactor
