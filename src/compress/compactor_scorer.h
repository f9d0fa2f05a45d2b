// The Compactor score: z(attention) + λ · z(leverage), per layer and KV head.
#pragma once

#include <span>

#include "compress/chunked_attention_scorer.h"
#include "compress/compressor.h"
#include "compress/leverage_scorer.h"

namespace compactor {

// Feeds every prefill chunk to a LeverageScorer and a ChunkedAttentionScorer
// and blends their z-scores with λ = options.blend. Protected tokens (the
// first `sink` and the last `recent`) score 0 in every part: compress() keeps
// them by mask, whatever their score.
class CompactorScorer : public Scorer {
public:
    CompactorScorer(const CompressionOptions& options, const ModelShape& shape);

    void observe(const LayerChunk& chunk) override;
    // Needs no cache: every statistic was accumulated during the prefill.
    ScoreSet finalize(const KvCache& /*cache*/) override { return finalize(); }
    ScoreSet finalize();

    // The parts, z-scored, from the last finalize().
    const ScoreSet& leverage_scores() const { return leverage_z_; }
    const ScoreSet& attention_scores() const { return attention_z_; }

    // The part scorers, for injecting a sketch and reading raw scores.
    LeverageScorer& leverage() { return leverage_; }
    const ChunkedAttentionScorer& attention() const { return attention_; }

private:
    double blend_;
    LeverageScorer leverage_;
    ChunkedAttentionScorer attention_;
    ScoreSet leverage_z_;
    ScoreSet attention_z_;
};

}  // namespace compactor
