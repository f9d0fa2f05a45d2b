// Approximate leverage scores of pre-RoPE keys through a right Gaussian sketch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compress/compressor.h"
#include "compress/scored_range.h"

namespace compactor {

// For every layer and KV head: y_t = k_t Φ [sketch_dim] for each key k_t
// (pre-RoPE), and the leverage score ℓ_t = (y_t − μ)ᵀ (G + εI)⁻¹ (y_t − μ),
// with μ the mean and G = Σ (y − μ)(y − μ)ᵀ over the scored tokens of the
// token's window. ℓ_t is the squared norm of row t of an orthonormal basis of
// the centered sketch. It is computed through a k × k Cholesky factor, so no
// n × n matrix is formed.
//
// observe() stores the y rows (n_tokens × sketch_dim floats per head) and
// accumulates Σ y and Σ y yᵀ in double. finalize() removes the recent tokens,
// which are known only then, centers (Σ y yᵀ − m μ μᵀ) and solves.
//
// With leverage_window > 0, windows of that many scored tokens start at
// token `sink`. NOTE: the scores of a window sum to at most min(its tokens,
// sketch_dim), so a short last window gives its few tokens high scores.
class LeverageScorer : public Scorer {
public:
    LeverageScorer(const CompressionOptions& options, const ModelShape& shape);

    // Replace the sketch of one head with `phi` [head_dim × sketch_dim]
    // row-major. Only before the first observe() of layer il.
    void set_sketch(int il, int h, std::span<const float> phi);
    std::span<const float> sketch(int il, int h) const;

    void observe(const LayerChunk& chunk) override;

    // Z-scored leverage per layer (zscore_layer), protected tokens 0.
    // Needs no cache: every statistic was accumulated during the prefill.
    ScoreSet finalize(const KvCache& /*cache*/) override { return finalize(); }
    ScoreSet finalize();

    // Leverage scores ℓ before z-scoring, from the last finalize().
    const ScoreSet& raw_scores() const { return raw_; }

private:
    // Running sums over the scored tokens of one window.
    struct Window {
        int64_t count = 0;
        std::vector<double> sum;   // [sketch_dim]  Σ y
        std::vector<double> gram;  // [sketch_dim × sketch_dim]  Σ y yᵀ, lower triangle
    };
    struct HeadState {
        std::vector<float> phi;    // [head_dim × sketch_dim]
        std::vector<float> y;      // [n_tokens × sketch_dim]
        std::vector<Window> windows;
    };

    HeadState& state(int il, int h) { return heads_[static_cast<size_t>(il) * shape_.n_head_kv + h]; }
    const HeadState& state(int il, int h) const {
        return heads_[static_cast<size_t>(il) * shape_.n_head_kv + h];
    }
    int64_t window_of(int64_t t) const;
    void accumulate(HeadState& hs, int64_t t0, int64_t t1);
    std::vector<float> score_head(const HeadState& hs, int64_t n_tokens, ScoredRange range) const;

    CompressionOptions options_;
    ModelShape shape_;
    std::vector<HeadState> heads_;    // [n_layer × n_head_kv]
    std::vector<int64_t> n_seen_;     // [n_layer] tokens observed per layer
    // The forward pass's pool from the last observe(); finalize() spreads
    // the heads over it. Null when observe() got none.
    ThreadPool* pool_ = nullptr;
    ScoreSet raw_;
};

}  // namespace compactor
