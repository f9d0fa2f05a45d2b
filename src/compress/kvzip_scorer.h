// KVzip: scores each context key by the attention it receives while the
// model repeats the context verbatim.
//
// Source: Kim et al., "KVzip: Query-Agnostic KV Cache Compression with
// Context Reconstruction", arXiv 2505.23416 (2025), and kvpress 0.5.4's
// KVzipPress.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"

namespace compactor {

// The scorer needs a second pass (needs_second_pass() is true). After the
// context prefill, the caller (run_second_pass in src/engine/second_pass.h)
// appends a repetition sequence to a copy of the cache: the end of the user
// turn asking for the document verbatim, the assistant header, and the
// document again. The observer that begin_second_pass() returns observes
// every layer of every chunk of that repetition. For each query head and each
// repetition query, it computes the causal softmax attention, scaled by
// 1/√head_dim, over every row of the copy: the context rows, the earlier
// repetition rows and the chunk's own keys up to the query. It keeps, per
// context key and KV head, the maximum probability over all repetition
// queries and the query heads of the group, as kvpress does (amax over the
// group and the queries). Scores are therefore probabilities in [0, 1].
//
// A document may be repeated in several sequences (pieces), each on its own
// copy of the context cache: every begin_second_pass() starts one sequence,
// and the maxima accumulate over all sequences of the same context.
//
// The queries run in tiles of kQueryTile against all the keys they can see,
// so the largest buffer is kQueryTile × (context + repetition) floats per
// thread and no n × n matrix is formed. The logits come from cblas_sgemm.
//
// Departures from kvpress 0.5.4:
// - kvpress reconstructs the context in pieces of 2048 tokens, each run on
//   the context cache alone, and each query's softmax covers only the first
//   n_sink keys, the piece's own context keys and the repetition. Here the
//   softmax covers the whole copy, as in ordinary decoding of the
//   repetition, and run_second_pass repeats the document in one sequence
//   when that fits in the model's training context, else in the fewest
//   pieces that fit.
// - The wording of the repetition prompt is compactor's own, and the
//   repetition follows compactor's ChatML document prompt instead of the
//   model's chat template as kvpress renders it.
// - kvpress scores only the tokens after the template's prefix (system turn
//   and user header) and gives the first n_sink tokens a score of 1. Here
//   every context token gets its measured score, and the sink and recent
//   tokens are protected by the selection's mask.
// - kvpress selects one global top-k over all layers and heads (or per
//   layer with layerwise), without a per-head floor. Here the budget modes
//   per_head and per_layer apply as for every other method.
// - kvpress's optional KVzip+ normalisation (by hidden-state and WoV norms)
//   is not implemented.
class KvzipScorer : public Scorer {
public:
    // Repetition queries per tile.
    static constexpr int64_t kQueryTile = 64;

    KvzipScorer(const CompressionOptions& options, const ModelShape& shape);

    // Context prefill: only counts the tokens of every layer.
    void observe(const LayerChunk& chunk) override;

    // The scores of the last second pass. Throws std::logic_error when no
    // second pass ran over every layer, and std::invalid_argument when
    // `cache` does not hold the observed context.
    ScoreSet finalize(const KvCache& cache) override;

    bool needs_second_pass() const override { return true; }

    // Starts one repetition sequence over `copy`, whose heads must each hold
    // the n_context observed context rows. The returned observer (owned by
    // the scorer) reads `copy`, which must outlive the sequence. Throws
    // std::invalid_argument when `copy` or n_context does not match the
    // context prefill.
    PrefillObserver* begin_second_pass(const KvCache& copy, int64_t n_context) override;

private:
    class RepetitionObserver : public PrefillObserver {
    public:
        explicit RepetitionObserver(KvzipScorer& scorer) : scorer_(scorer) {}
        void observe(const LayerChunk& chunk) override { scorer_.observe_repetition(chunk); }

    private:
        KvzipScorer& scorer_;
    };

    void observe_repetition(const LayerChunk& chunk);

    CompressionOptions options_;
    ModelShape shape_;
    std::vector<int64_t> n_seen_;           // [n_layer] context tokens observed per layer
    const KvCache* copy_ = nullptr;         // the cache of the running second pass
    int64_t n_context_ = 0;
    std::vector<int64_t> n_repeated_;       // [n_layer] repetition tokens observed per layer
    std::vector<std::vector<float>> max_attention_;  // [n_layer][n_head_kv × n_context]
    double scoring_s_ = 0;                  // time spent in observe_repetition(), for the log
    RepetitionObserver repetition_observer_{*this};
};

}  // namespace compactor
