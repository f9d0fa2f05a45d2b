// Chunked non-causal attention scores on post-RoPE queries and keys.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"
#include "compress/scored_range.h"

namespace compactor {

// The scored tokens (all but the first `sink` and last `recent`) are cut into
// chunks of attn_chunk tokens, the first starting at token `sink`, as kvpress
// 0.5.4 does. Inside a chunk every query attends to every key of the chunk
// (non-causal softmax of q·k, no 1/√d scaling). A key's score is the sum of
// the probabilities it receives over the chunk's queries, averaged over the
// query heads of its KV head. It is multiplied by ‖v‖ when value_weighting is
// on. Then a width-3 moving average runs over the scored tokens, with zero
// padding at both ends and a divisor of 3 (torch avg_pool1d with padding 1).
// A short last chunk attends over its own tokens only, which is exact −∞
// masking of the padding.
//
// observe() buffers tokens until a chunk is complete and provably free of
// recent tokens (attn_chunk + recent tokens pending), so prefill chunks of
// any length work and only the last chunk or two wait for finalize().
class ChunkedAttentionScorer : public Scorer {
public:
    ChunkedAttentionScorer(const CompressionOptions& options, const ModelShape& shape);

    void observe(const LayerChunk& chunk) override;

    // Z-scored attention part per layer (zscore_layer), protected tokens 0.
    // Needs no cache: every statistic was accumulated during the prefill.
    ScoreSet finalize(const KvCache& /*cache*/) override { return finalize(); }
    ScoreSet finalize();

    // Smoothed scores before z-scoring, from the last finalize().
    const ScoreSet& raw_scores() const { return raw_; }

private:
    // Tokens of one layer waiting for their chunk to fill.
    struct Pending {
        int64_t pos0 = 0;               // document position of the first pending token
        std::vector<float> q;           // [m × n_head × head_dim]
        std::vector<float> k;           // [m × n_head_kv × head_dim]
        std::vector<float> v_norm;      // [m × n_head_kv]
        int64_t size(int n_head_kv) const { return static_cast<int64_t>(v_norm.size()) / n_head_kv; }
    };

    // Append the scores of the first m pending tokens to `columns`; the
    // query heads run in parallel on `pool` when it is not null.
    void score_chunk(const Pending& pending, int64_t m, std::vector<std::vector<float>>& columns,
                     ThreadPool* pool) const;
    void drop_front(Pending& pending, int64_t m) const;

    CompressionOptions options_;
    ModelShape shape_;
    std::vector<Pending> pending_;                      // [n_layer]
    std::vector<std::vector<std::vector<float>>> done_; // [n_layer][n_head_kv][scored tokens so far]
    std::vector<int64_t> n_seen_;                       // [n_layer]
    // The forward pass's pool from the last observe(); finalize() scores
    // the last chunks on it. Null when observe() got none.
    ThreadPool* pool_ = nullptr;
    ScoreSet raw_;
};

// Column sums of softmax(q kᵀ) over one chunk for one query head, the plain
// loop version: q [m × head_dim] with row stride q_stride, k likewise,
// returns [m]. The reference the fast path is tested against.
std::vector<double> attention_column_sums_reference(const float* q, int64_t q_stride, const float* k,
                                                    int64_t k_stride, int64_t m, int head_dim);

}  // namespace compactor
