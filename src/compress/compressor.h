// KV-cache compression: options, scorers and the compress() entry point.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/prefill_observer.h"

namespace compactor {

enum class BudgetMode {
    per_head,   // every KV head keeps the same count (kvpress CompactorPress)
    per_layer,  // one top-k over all heads of a layer, each head keeps >= head_floor of an even share
};

struct CompressionOptions {
    std::string method = "compactor";  // one of method_names()
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
    uint64_t seed = 0;                 // seeds the sketch (and the random method)

    // Knobs of the baseline methods (defaults are kvpress 0.5.4's).
    int window = 64;                   // snapkv, pyramidkv: last context tokens whose queries score the rest
    int pool_kernel = 5;               // snapkv, pyramidkv: width of the moving average over token scores
    double pyramid_beta = 20.0;        // pyramidkv: the last layer keeps (n − window) / beta + window tokens
    int n_future_positions = 512;      // expected_attention: future query positions averaged over
    double epsilon = 0.02;             // expected_attention: added to ‖v‖ before weighting
};

// The --method names, in the order reports list them: none, compactor,
// leverage, chunked_attention, exact_leverage, streaming_llm, knorm, random,
// snapkv, pyramidkv, expected_attention, tova, keydiff, kvzip.
const std::vector<std::string>& method_names();

// Throws std::invalid_argument naming the option and its valid range.
void validate(const CompressionOptions& options);

struct ModelShape {
    int n_layer = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int head_dim = 0;
    // RoPE of the model, for scorers that rotate statistics to future positions.
    int n_rot = 0;                          // 0 means head_dim
    RopeMode rope_mode = RopeMode::normal;
    float rope_freq_base = 10000.0f;
    std::vector<float> rope_freq_divisors{};  // [n_rot / 2] or empty
};

// The shape of `config`; rope_freq_divisors stay empty (set them from the
// weights when the model has rope_freqs.weight).
ModelShape model_shape(const ModelConfig& config);

// Per-layer scores of every context token for every KV head:
// scores[il] is [n_head_kv × n_tokens], row-major by head. Higher scores are
// kept first.
struct ScoreSet {
    int64_t n_tokens = 0;
    std::vector<std::vector<float>> scores;
    // Optional uneven layer budgets (PyramidKV): given the context length and
    // the uniform keep count per head, the keep count per head of every layer
    // [n_layer]. Unset means every layer keeps n_keep.
    std::function<std::vector<int64_t>(int64_t n_tokens, int64_t n_keep)> layer_keep;
};

// A scorer watches the prefill (PrefillObserver) and produces scores after it.
class Scorer : public PrefillObserver {
public:
    // Scores for the n_tokens observed so far. `cache` holds exactly those
    // tokens (post-RoPE keys and values, every head full length), so scorers
    // that need all keys (SnapKV, TOVA, key norm) read them here instead of
    // keeping copies.
    virtual ScoreSet finalize(const KvCache& cache) = 0;

    // Scorers that need the model to run a second sequence after the context
    // (KVzip's repetition of the document) return true. The caller then runs
    // that sequence through a copy of the full cache with the observer that
    // begin_second_pass() returns, and calls finalize() with the original cache.
    virtual bool needs_second_pass() const { return false; }
    // `copy` is the cache the second pass appends to; its first n_context rows
    // per head are the context. The observer may read `copy` in observe():
    // every earlier chunk's rows are in it, the current chunk's are not yet.
    virtual PrefillObserver* begin_second_pass(const KvCache& copy, int64_t n_context) {
        (void)copy;
        (void)n_context;
        return nullptr;
    }
};

// The scorer for options.method; nullptr for "none". Throws
// std::invalid_argument listing method_names() for an unknown method.
std::unique_ptr<Scorer> make_scorer(const CompressionOptions& options, const ModelShape& shape);

struct CompressionReport {
    int64_t n_tokens = 0;          // context tokens before compression
    int64_t rows_before = 0;       // total rows over all layers and heads
    int64_t rows_after = 0;
    size_t bytes_before = 0;
    size_t bytes_after = 0;
    double kept_fraction = 1.0;    // rows_after / rows_before, measured on the cache
    double score_s = 0;            // finalize time
    double second_pass_s = 0;      // the scorer's second pass over the model (KVzip), 0 for other methods
    double compact_s = 0;          // selection and compaction time
    bool skipped = false;          // true when the context was too short to compress
};

// Select and compact: finalize the scorer, keep round((1 - ratio) · n) rows
// per head (per_head) or per layer on average (per_layer), compact the cache
// in place. A ratio of 0 or a context of at most sink + recent tokens leaves
// the cache unchanged.
CompressionReport compress(KvCache& cache, Scorer* scorer, const CompressionOptions& options);

// The same selection and compaction from scores computed earlier (one
// finalize() serving several ratios and budgets); report.score_s is 0.
CompressionReport compress_with_scores(KvCache& cache, const ScoreSet& scores, const CompressionOptions& options);

// A compressed copy of a cache and its report.
struct CompressedCopy {
    KvCache cache;
    CompressionReport report;
};

// What compress_with_scores() leaves in a copy of `cache`, built by copying
// only the kept rows, with room for n_room more rows per head. `cache` is
// unchanged. report.compact_s includes the copy.
CompressedCopy compressed_copy(const KvCache& cache, const ScoreSet& scores, const CompressionOptions& options,
                               int64_t n_room = 0);

}  // namespace compactor
