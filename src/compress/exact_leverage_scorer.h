// Exact leverage scores of the centered pre-RoPE keys: the reference that
// approximate (sketched) leverage is validated against.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"
#include "compress/observed_tokens.h"
#include "compress/scored_range.h"

namespace compactor {

// The leverage part of Compactor (Chari and Van Durme, arXiv 2507.08143)
// without the sketch. For every layer and KV head, with X the pre-RoPE keys
// of the scored tokens of a window minus their mean μ, and G = XᵀX
// [head_dim × head_dim], token t scores ℓ_t = (k_t − μ)ᵀ (G + εI)⁻¹ (k_t − μ),
// the squared norm of row t of an orthonormal basis of X. The tokens,
// windows (leverage_window), centering, ε and its retries (1e-2 first,
// cholesky_with_jitter) and z-scoring are LeverageScorer's, so the two
// compare directly: LeverageScorer with the identity as its sketch gives
// these scores. Protected tokens score 0.
//
// observe() keeps every pre-RoPE key (n_tokens × head_dim floats per head,
// as much as the cache's keys, because the cache holds only post-RoPE keys)
// and accumulates Σ k and Σ k kᵀ in double. finalize() removes the recent
// tokens, factors G + εI = L Lᵀ, and computes z_t = L⁻¹ (k_t − μ) for all
// tokens of a window with one GEMM, so ℓ_t = ‖z_t‖². Cost: 2 · head_dim²
// flops per token and head.
//
// kvpress 0.5.4 has no exact-leverage press; tools/kvpress_baselines_golden.py
// checks these scores against numpy in float64.
class ExactLeverageScorer : public Scorer {
public:
    ExactLeverageScorer(const CompressionOptions& options, const ModelShape& shape);

    void observe(const LayerChunk& chunk) override;

    // Z-scored leverage per layer (zscore_layer), protected tokens 0. The
    // cache only serves to check that it contains the observed tokens.
    ScoreSet finalize(const KvCache& cache) override;

    // Leverage scores ℓ before z-scoring, from the last finalize().
    const ScoreSet& raw_scores() const { return raw_; }

private:
    // Running sums over the scored tokens of one window.
    struct Window {
        int64_t count = 0;
        std::vector<double> sum;   // [head_dim]  Σ k
        std::vector<double> gram;  // [head_dim × head_dim]  Σ k kᵀ, lower triangle
    };
    struct HeadState {
        std::vector<float> keys;  // [n_tokens × head_dim], pre-RoPE
        std::vector<Window> windows;
    };

    HeadState& state(int il, int h) { return heads_[static_cast<size_t>(il) * shape_.n_head_kv + h]; }
    int64_t window_of(int64_t t) const;
    int64_t window_end(int64_t w) const;
    void accumulate(HeadState& hs, int64_t t0, int64_t t1);
    void score_head(const HeadState& hs, int64_t n_tokens, ScoredRange range, float* scores);

    CompressionOptions options_;
    ModelShape shape_;
    ObservedTokens observed_;
    std::vector<HeadState> heads_;  // [n_layer × n_head_kv]
    // Scratch: the centered keys of one window and their whitened rows, in double.
    std::vector<double> rows_;
    std::vector<double> whitened_;
    ScoreSet raw_;
};

}  // namespace compactor
