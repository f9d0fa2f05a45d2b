#include "compress/exact_leverage_scorer.h"

#include <algorithm>

#include <cblas.h>

#include "compress/cholesky.h"
#include "compress/scorer_registry.h"
#include "compress/vector_math.h"
#include "compress/zscore.h"

namespace compactor {

ExactLeverageScorer::ExactLeverageScorer(const CompressionOptions& options, const ModelShape& shape)
    : options_(options), shape_(shape), observed_(shape, "ExactLeverageScorer") {
    validate(options);
    heads_.resize(static_cast<size_t>(shape.n_layer) * static_cast<size_t>(shape.n_head_kv));
}

int64_t ExactLeverageScorer::window_of(int64_t t) const {
    if (options_.leverage_window == 0) return 0;
    return (t - options_.sink) / options_.leverage_window;
}

// First token after window w (unbounded without leverage_window).
int64_t ExactLeverageScorer::window_end(int64_t w) const {
    if (options_.leverage_window == 0) return INT64_MAX;
    return options_.sink + (w + 1) * options_.leverage_window;
}

void ExactLeverageScorer::observe(const LayerChunk& chunk) {
    observed_.observe(chunk);
    if (chunk.n_tokens == 0) return;
    const size_t d = static_cast<size_t>(shape_.head_dim);
    const int64_t t1 = observed_.count(chunk.il);
    const int64_t t0 = t1 - chunk.n_tokens;

    for (int h = 0; h < shape_.n_head_kv; ++h) {
        HeadState& hs = state(chunk.il, h);
        hs.keys.resize(static_cast<size_t>(t1) * d);
        for (int64_t t = t0; t < t1; ++t) {
            const float* k = chunk.k_raw + (static_cast<size_t>(t - t0) * shape_.n_head_kv + h) * d;
            std::copy_n(k, d, hs.keys.data() + static_cast<size_t>(t) * d);
        }
        // The sink is known now; the recent tokens are removed in finalize().
        accumulate(hs, std::max<int64_t>(t0, options_.sink), t1);
    }
}

void ExactLeverageScorer::accumulate(HeadState& hs, int64_t t0, int64_t t1) {
    const size_t d = static_cast<size_t>(shape_.head_dim);

    // One run of tokens per window.
    for (int64_t run0 = t0; run0 < t1;) {
        const int64_t w = window_of(run0);
        const int64_t run1 = std::min(t1, window_end(w));
        if (static_cast<int64_t>(hs.windows.size()) <= w) hs.windows.resize(static_cast<size_t>(w) + 1);
        Window& win = hs.windows[static_cast<size_t>(w)];
        if (win.sum.empty()) {
            win.sum.assign(d, 0.0);
            win.gram.assign(d * d, 0.0);
        }

        const size_t m = static_cast<size_t>(run1 - run0);
        rows_.assign(hs.keys.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(run0) * d),
                     hs.keys.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(run1) * d));
        for (size_t r = 0; r < m; ++r) {
            for (size_t c = 0; c < d; ++c) win.sum[c] += rows_[r * d + c];
        }
        // Σ k kᵀ += Kᵀ K [d × d], lower triangle, in double.
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<int>(d), static_cast<int>(m), 1.0,
                    rows_.data(), static_cast<int>(d), 1.0, win.gram.data(), static_cast<int>(d));
        win.count += static_cast<int64_t>(m);
        run0 = run1;
    }
}

void ExactLeverageScorer::score_head(const HeadState& hs, int64_t n_tokens, ScoredRange range, float* scores) {
    const int dim = shape_.head_dim;
    const size_t d = static_cast<size_t>(dim);
    std::vector<Window> windows = hs.windows;

    // Remove the recent tokens, which observe() could not tell apart.
    for (int64_t t = range.end; t < n_tokens; ++t) {
        Window& win = windows[static_cast<size_t>(window_of(t))];
        const float* k = hs.keys.data() + static_cast<size_t>(t) * d;
        for (size_t i = 0; i < d; ++i) {
            win.sum[i] -= k[i];
            for (size_t j = 0; j <= i; ++j) win.gram[i * d + j] -= static_cast<double>(k[i]) * k[j];
        }
        win.count -= 1;
    }

    for (int64_t run0 = range.begin; run0 < range.end;) {
        const int64_t w = window_of(run0);
        const int64_t run1 = std::min(range.end, window_end(w));
        const Window& win = windows[static_cast<size_t>(w)];
        const size_t m = static_cast<size_t>(run1 - run0);

        // Mean μ and the Cholesky factor of Σ k kᵀ − m μ μᵀ (+ εI).
        std::vector<double> mu(d);
        for (size_t i = 0; i < d; ++i) mu[i] = win.sum[i] / static_cast<double>(win.count);
        std::vector<double> gram(d * d);
        for (size_t i = 0; i < d; ++i) {
            for (size_t j = 0; j <= i; ++j) {
                const double g = win.gram[i * d + j] - static_cast<double>(win.count) * mu[i] * mu[j];
                gram[i * d + j] = g;
                gram[j * d + i] = g;
            }
        }
        const std::vector<double> lower = cholesky_with_jitter(gram, dim);

        // W = L⁻¹, column by column.
        std::vector<double> inverse(d * d, 0.0);
        std::vector<double> column(d);
        for (size_t j = 0; j < d; ++j) {
            std::fill(column.begin(), column.end(), 0.0);
            column[j] = 1.0;
            solve_lower(lower, dim, column.data());
            for (size_t i = 0; i < d; ++i) inverse[i * d + j] = column[i];
        }

        // Z = X Wᵀ for the centered keys X [m × d], so row t of Z is L⁻¹ (k_t − μ)
        // and ℓ_t = ‖row t of Z‖². A GEMM with the explicit inverse runs
        // about 2.7 times faster than OpenBLAS's dtrsm on these shapes.
        rows_.resize(m * d);
        whitened_.resize(m * d);
        for (size_t r = 0; r < m; ++r) {
            const float* k = hs.keys.data() + (static_cast<size_t>(run0) + r) * d;
            for (size_t c = 0; c < d; ++c) rows_[r * d + c] = k[c] - mu[c];
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), dim, dim, 1.0, rows_.data(), dim,
                    inverse.data(), dim, 0.0, whitened_.data(), dim);
        for (size_t r = 0; r < m; ++r) {
            scores[static_cast<size_t>(run0) + r] = static_cast<float>(squared_norm(whitened_.data() + r * d, dim));
        }
        run0 = run1;
    }
}

ScoreSet ExactLeverageScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = observed_.check_cache(cache);
    const ScoredRange range = scored_range(n_tokens, options_.sink, options_.recent);
    const size_t layer_size = static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens);

    raw_.n_tokens = n_tokens;
    raw_.scores.assign(static_cast<size_t>(shape_.n_layer), std::vector<float>(layer_size, 0.0f));
    ScoreSet z;
    z.n_tokens = n_tokens;
    z.scores.resize(static_cast<size_t>(shape_.n_layer));
    for (int il = 0; il < shape_.n_layer; ++il) {
        std::vector<float>& layer = raw_.scores[static_cast<size_t>(il)];
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            score_head(state(il, h), n_tokens, range, layer.data() + static_cast<size_t>(h) * n_tokens);
        }
        z.scores[static_cast<size_t>(il)] = layer;
        zscore_layer(z.scores[static_cast<size_t>(il)], shape_.n_head_kv, n_tokens, range);
    }
    return z;
}

std::unique_ptr<Scorer> make_exact_leverage_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<ExactLeverageScorer>(options, shape);
}

}  // namespace compactor
