// KV-cache compression: options, scorers and the compress() entry point.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kv/kv_cache.h"
#include "model/prefill_observer.h"

namespace compactor {

enum class BudgetMode {
    per_head,   // every KV head keeps the same count (kvpress CompactorPress)
    per_layer,  // one top-k over all heads of a layer, each head keeps >= head_floor of an even share
};

struct CompressionOptions {
    std::string method = "compactor";  // "compactor" or "none"
    double ratio = 0.5;                // fraction of context tokens removed, in [0, 1)
    double blend = 0.3;                // λ: s = z(attention) + λ · z(leverage)
    int sketch_dim = 48;               // k, columns of the Gaussian sketch Φ
    int attn_chunk = 256;              // tokens per non-causal attention chunk
    int sink = 8;                      // first tokens always kept
    int recent = 4;                    // last tokens always kept
    BudgetMode budget = BudgetMode::per_layer;
    double head_floor = 0.2;           // per_layer: min share of an even split per head
    int leverage_window = 0;           // 0: statistics over the whole sequence
    bool value_weighting = true;       // multiply attention scores by ‖v‖
    uint64_t seed = 0;                 // seeds the sketch
};

// Throws std::invalid_argument naming the option and its valid range.
void validate(const CompressionOptions& options);

struct ModelShape {
    int n_layer = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int head_dim = 0;
};

// Per-layer scores of every context token for every KV head:
// scores[il] is [n_head_kv × n_tokens], row-major by head.
struct ScoreSet {
    int64_t n_tokens = 0;
    std::vector<std::vector<float>> scores;
};

// A scorer watches the prefill (PrefillObserver) and produces scores after it.
class Scorer : public PrefillObserver {
public:
    // Scores for the n_tokens observed so far.
    virtual ScoreSet finalize() = 0;
};

// The scorer for options.method; nullptr for "none".
std::unique_ptr<Scorer> make_scorer(const CompressionOptions& options, const ModelShape& shape);

struct CompressionReport {
    int64_t n_tokens = 0;          // context tokens before compression
    int64_t rows_before = 0;       // total rows over all layers and heads
    int64_t rows_after = 0;
    size_t bytes_before = 0;
    size_t bytes_after = 0;
    double kept_fraction = 1.0;    // rows_after / rows_before, measured on the cache
    double score_s = 0;            // finalize time
    double compact_s = 0;          // selection and compaction time
    bool skipped = false;          // true when the context was too short to compress
};

// Select and compact: finalize the scorer, keep round((1 - ratio) · n) rows
// per head (per_head) or per layer on average (per_layer), compact the cache
// in place. A ratio of 0 or a context of at most sink + recent tokens leaves
// the cache unchanged.
CompressionReport compress(KvCache& cache, Scorer* scorer, const CompressionOptions& options);

}  // namespace compactor
