// TOVA scores: attention from the last context token.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"
#include "compress/observed_tokens.h"
#include "compress/window_attention.h"

namespace compactor {

// Oren et al., "Transformers are Multi-State RNNs" (arXiv 2401.06104), as
// kvpress 0.5.4 TOVAPress scores it: the post-RoPE queries of the last
// context token attend to all keys (logits q·k / √head_dim, softmax over all
// keys). Key j < n − 1 scores its attention probability averaged over all
// query heads of the layer, so every KV head of a layer shares one score
// vector. The last token scores the layer's maximum + 1, so selection keeps
// it first.
//
// TOVA evicts one token per decoding step. Here compression runs once after
// the document, so the last document token plays the current query and the
// scores are query-agnostic.
//
// Departure from kvpress: compress() always keeps the first `sink` and the
// last `recent` tokens, which TOVAPress does not protect. With sink and
// recent 0 the kept sets are TOVAPress's.
class TovaScorer : public Scorer {
public:
    TovaScorer(const CompressionOptions& options, const ModelShape& shape);

    // Counts tokens and keeps the last token's queries of each layer.
    void observe(const LayerChunk& chunk) override;
    // Reads the post-RoPE keys from `cache`.
    ScoreSet finalize(const KvCache& cache) override;

private:
    void score_layer(const KvCache& cache, int il, int64_t n_tokens, std::vector<float>& layer);

    ModelShape shape_;
    ObservedTokens observed_;
    QueryWindow queries_;
    // Buffers reused across layers and heads.
    WindowAttentionWorkspace workspace_;
    std::vector<float> head_major_;
    std::vector<float> sums_;
};

}  // namespace compactor
