// SnapKV scores: attention from the last `window` context tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"
#include "compress/observed_tokens.h"
#include "compress/window_attention.h"

namespace compactor {

// Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation"
// (arXiv 2404.14469), as kvpress 0.5.4 SnapKVPress scores it. With n tokens
// and w = window: the post-RoPE queries of the last w tokens attend to all n
// keys (logits q·k / √head_dim, causal inside the window, softmax over all
// keys). Key j < n − w scores the mean over those w queries of its attention
// probability, averaged over the query heads of its KV head and then
// smoothed by a moving average of width pool_kernel over j < n − w (zero
// padding, divisor pool_kernel, as torch avg_pool1d). The w window tokens
// score the layer's maximum + 1, so selection keeps them first.
//
// SnapKV is meant to score with the question's tokens in the window. Here
// compression runs once, before any question, so the window is the end of the
// document and the scores are query-agnostic.
//
// Departures from kvpress: compress() always keeps the first `sink` and the
// last `recent` tokens, which SnapKVPress does not protect. With sink and
// recent 0 the kept sets are SnapKVPress's. SnapKVPress rejects contexts of
// at most w tokens, while here the window shrinks to n − 1 tokens.
class SnapKvScorer : public Scorer {
public:
    SnapKvScorer(const CompressionOptions& options, const ModelShape& shape);

    // Counts tokens and keeps the last `window` queries of each layer.
    void observe(const LayerChunk& chunk) override;
    // Reads the post-RoPE keys from `cache`.
    ScoreSet finalize(const KvCache& cache) override;

private:
    void score_layer(const KvCache& cache, int il, int64_t n_tokens, std::vector<float>& layer);

    CompressionOptions options_;
    ModelShape shape_;
    ObservedTokens observed_;
    QueryWindow queries_;
    // Buffers reused across layers and heads.
    WindowAttentionWorkspace workspace_;
    std::vector<float> head_major_;
    std::vector<float> sums_;
};

}  // namespace compactor
