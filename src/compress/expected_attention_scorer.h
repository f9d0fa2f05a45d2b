// Expected attention: scores each key by the attention that future queries,
// modelled as a Gaussian, are expected to pay it.
//
// Source: Devoto, Jeblick and Jégou, "Expected Attention: KV Cache
// Compression by Estimating Attention from Future Queries Distribution",
// arXiv 2510.00636 (2025), as kvpress 0.5.4 implements it in
// ExpectedAttentionPress.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"

namespace compactor {

// The RoPE rotation averaged over positions pos0 .. pos0 + n_positions − 1:
// per rotated pair i, the mean cosine and sine of the pair's angle.
struct AverageRotation {
    std::vector<double> cos;  // [n_rot / 2]
    std::vector<double> sin;  // [n_rot / 2]
};

// Per layer and query head, observe() accumulates the mean μ and covariance Σ
// (population, divided by m) of the pre-RoPE queries q_raw of the tokens past
// the sink: per chunk in float (BLAS ssyrk), across chunks in double. Those statistics equal kvpress's, which applies W_q to
// the hidden states after its n_sink tokens. The recent tokens take part, as
// they do in kvpress, which has no recent window.
//
// finalize() rotates μ and Σ by R, the RoPE rotation averaged over the
// n_future_positions positions that follow the context (n, n + 1, ...):
// μ' = R μ and Σ' = R Σ Rᵀ. R is not orthogonal. Each pair of rotated
// dimensions gets the 2 × 2 block [[c̄, −s̄], [s̄, c̄]] of mean cosines and
// sines, paired as the model's RoPE pairs them (normal: 2i and 2i + 1; neox:
// i and i + n_rot/2). Dimensions past n_rot are not rotated.
//
// The score of post-RoPE key k_t (t past the sink) for query head g is
//   a_g(t) = softmax over the keys past the sink of μ'·k/√d + kᵀΣ'k/(2d),
// which is exp(E[q·k/√d] + Var[q·k/√d]/2), the expected unnormalised
// attention of a Gaussian query, normalised over the keys. The score of KV
// head h is the mean of a_g over its query group, times (‖v_t‖ + epsilon)
// when value_weighting is set (kvpress's use_vnorm, which multiplies by
// (a + epsilon) · ‖v‖).
//
// Departures from kvpress 0.5.4:
// - Protected tokens (the sink and the recent window) score 0 and are kept by
//   the selection's mask. kvpress pads its n_sink tokens with the maximum
//   score and has no recent window. The softmax still runs over every key
//   past the sink, recent ones included, so with sink = n_sink the scores of
//   the scored tokens equal kvpress's whatever `recent` is.
// - Statistics are accumulated while the prefill runs, so no hidden states
//   are kept and no second projection is needed.
// - kvpress's default epsilon is 0; CompressionOptions::epsilon defaults to
//   0.02.
class ExpectedAttentionScorer : public Scorer {
public:
    ExpectedAttentionScorer(const CompressionOptions& options, const ModelShape& shape);

    void observe(const LayerChunk& chunk) override;

    // Reads the post-RoPE keys and the values of every head from `cache`,
    // which must hold exactly the observed tokens. Throws
    // std::invalid_argument when it does not.
    ScoreSet finalize(const KvCache& cache) override;

    // Mean [head_dim] and covariance [head_dim × head_dim] (row-major) of one
    // query head's observed queries, before rotation. Both are empty while
    // no token past the sink was observed.
    struct QueryStatistics {
        int64_t n_queries = 0;
        std::vector<double> mean;
        std::vector<double> covariance;
    };
    QueryStatistics query_statistics(int il, int head) const;

private:
    // Running sums over the observed queries of one query head, shifted by
    // the mean c of the first chunk so that removing the mean at the end
    // cancels little: Σ q = m·c + Σ (q − c), and the covariance is
    // Σ (q − c)(q − c)ᵀ / m − (μ − c)(μ − c)ᵀ.
    struct HeadSums {
        std::vector<float> shift;  // [head_dim]  c, empty until the first chunk
        std::vector<double> sum;   // [head_dim]  Σ (q − c)
        std::vector<double> gram;  // [head_dim × head_dim]  Σ (q − c)(q − c)ᵀ, lower triangle
    };

    HeadSums& sums(int il, int head) { return sums_[static_cast<size_t>(il) * shape_.n_head + head]; }
    const HeadSums& sums(int il, int head) const { return sums_[static_cast<size_t>(il) * shape_.n_head + head]; }
    void accumulate(const LayerChunk& chunk, int head, int64_t row0);
    std::vector<float> score_layer(const KvCache& cache, int il, int64_t n_tokens,
                                   const AverageRotation& rotation) const;

    CompressionOptions options_;
    ModelShape shape_;
    std::vector<HeadSums> sums_;       // [n_layer × n_head]
    std::vector<int64_t> n_seen_;      // [n_layer] tokens observed per layer
    std::vector<int64_t> n_queries_;   // [n_layer] tokens past the sink observed per layer
};

// Mean cosines and sines of the RoPE angles of `shape` over n_positions
// consecutive positions from pos0.
AverageRotation average_rope_rotation(const ModelShape& shape, int64_t pos0, int n_positions);

// μ' = R μ and Σ' = R Σ Rᵀ in place, R being the block-diagonal matrix of
// `rotation` with the pairing of shape.rope_mode. mean is [head_dim],
// covariance [head_dim × head_dim] row-major, or empty to skip it.
void rotate_query_statistics(const ModelShape& shape, const AverageRotation& rotation, std::vector<double>& mean,
                             std::vector<double>& covariance);

}  // namespace compactor
