#include "compress/leverage_scorer.h"

#include <algorithm>
#include <stdexcept>

#include <cblas.h>
#include <fmt/format.h>

#include "compress/chunk_check.h"
#include "compress/cholesky.h"
#include "compress/sketch.h"
#include "compress/zscore.h"
#include "model/thread_pool.h"

namespace compactor {

LeverageScorer::LeverageScorer(const CompressionOptions& options, const ModelShape& shape)
    : options_(options), shape_(shape) {
    validate(options);
    check_shape(shape, "LeverageScorer");

    heads_.resize(static_cast<size_t>(shape.n_layer) * static_cast<size_t>(shape.n_head_kv));
    for (int il = 0; il < shape.n_layer; ++il) {
        for (int h = 0; h < shape.n_head_kv; ++h) {
            state(il, h).phi = gaussian_sketch(options.seed, il, h, shape.head_dim, options.sketch_dim);
        }
    }
    n_seen_.assign(static_cast<size_t>(shape.n_layer), 0);
}

void LeverageScorer::set_sketch(int il, int h, std::span<const float> phi) {
    if (il < 0 || il >= shape_.n_layer || h < 0 || h >= shape_.n_head_kv) {
        throw std::invalid_argument(
            fmt::format("LeverageScorer: no head ({}, {}) in a model of {} layers and {} KV heads", il, h,
                        shape_.n_layer, shape_.n_head_kv));
    }
    const size_t expected = static_cast<size_t>(shape_.head_dim) * static_cast<size_t>(options_.sketch_dim);
    if (phi.size() != expected) {
        throw std::invalid_argument(fmt::format(
            "LeverageScorer: sketch has {} entries, expected head_dim × sketch_dim = {}", phi.size(), expected));
    }
    if (n_seen_[static_cast<size_t>(il)] != 0) {
        throw std::invalid_argument(
            fmt::format("LeverageScorer: layer {} has already observed tokens; set its sketch before prefill", il));
    }
    state(il, h).phi.assign(phi.begin(), phi.end());
}

std::span<const float> LeverageScorer::sketch(int il, int h) const { return state(il, h).phi; }

int64_t LeverageScorer::window_of(int64_t t) const {
    if (options_.leverage_window == 0) return 0;
    return (t - options_.sink) / options_.leverage_window;
}

void LeverageScorer::observe(const LayerChunk& chunk) {
    const size_t il = static_cast<size_t>(chunk.il);
    check_chunk(chunk, shape_, chunk.il >= 0 && chunk.il < shape_.n_layer ? n_seen_[il] : 0, "LeverageScorer");
    pool_ = chunk.pool;
    if (chunk.n_tokens == 0) return;

    const int k = options_.sketch_dim;
    const int d = shape_.head_dim;
    const int64_t t0 = n_seen_[il];
    const int64_t t1 = t0 + chunk.n_tokens;

    for (int h = 0; h < shape_.n_head_kv; ++h) {
        HeadState& hs = state(chunk.il, h);

        // Sketch: y [n_tokens × k] = K_h [n_tokens × d] Φ [d × k].
        hs.y.resize(static_cast<size_t>(t1) * static_cast<size_t>(k));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(chunk.n_tokens), k, d, 1.0f,
                    chunk.k_raw + static_cast<size_t>(h) * d, shape_.n_head_kv * d, hs.phi.data(), k, 0.0f,
                    hs.y.data() + static_cast<size_t>(t0) * k, k);

        // The sink is known now; the recent tokens are removed in finalize().
        accumulate(hs, std::max<int64_t>(t0, options_.sink), t1);
    }
    n_seen_[il] = t1;
}

void LeverageScorer::accumulate(HeadState& hs, int64_t t0, int64_t t1) {
    const size_t k = static_cast<size_t>(options_.sketch_dim);
    std::vector<double> rows;

    // One run of tokens per window.
    for (int64_t run0 = t0; run0 < t1;) {
        const int64_t w = window_of(run0);
        const int64_t run1 = options_.leverage_window == 0
                                 ? t1
                                 : std::min<int64_t>(t1, options_.sink + (w + 1) * options_.leverage_window);
        if (static_cast<int64_t>(hs.windows.size()) <= w) {
            hs.windows.resize(static_cast<size_t>(w) + 1);
        }
        Window& win = hs.windows[static_cast<size_t>(w)];
        if (win.sum.empty()) {
            win.sum.assign(k, 0.0);
            win.gram.assign(k * k, 0.0);
        }

        const size_t m = static_cast<size_t>(run1 - run0);
        rows.assign(hs.y.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(run0) * k),
                    hs.y.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(run1) * k));
        for (size_t r = 0; r < m; ++r) {
            for (size_t j = 0; j < k; ++j) win.sum[j] += rows[r * k + j];
        }
        // Σ y yᵀ += Yᵀ Y [k × k], lower triangle, in double.
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<int>(k), static_cast<int>(m), 1.0,
                    rows.data(), static_cast<int>(k), 1.0, win.gram.data(), static_cast<int>(k));
        win.count += static_cast<int64_t>(m);
        run0 = run1;
    }
}

std::vector<float> LeverageScorer::score_head(const HeadState& hs, int64_t n_tokens, ScoredRange range) const {
    const int k = options_.sketch_dim;
    const size_t kk = static_cast<size_t>(k);
    std::vector<Window> windows = hs.windows;

    // Remove the recent tokens, which observe() could not tell apart.
    for (int64_t t = range.end; t < n_tokens; ++t) {
        Window& win = windows[static_cast<size_t>(window_of(t))];
        const float* y = hs.y.data() + static_cast<size_t>(t) * kk;
        for (size_t i = 0; i < kk; ++i) {
            win.sum[i] -= y[i];
            for (size_t j = 0; j <= i; ++j) win.gram[i * kk + j] -= static_cast<double>(y[i]) * y[j];
        }
        win.count -= 1;
    }

    // Per window: mean μ and the Cholesky factor of the centered Gram
    // Σ y yᵀ − m μ μᵀ (+ εI).
    std::vector<std::vector<double>> means(windows.size());
    std::vector<std::vector<double>> factors(windows.size());
    for (size_t w = 0; w < windows.size(); ++w) {
        const Window& win = windows[w];
        if (win.count <= 0) continue;
        const double m = static_cast<double>(win.count);
        std::vector<double>& mu = means[w];
        mu.resize(kk);
        for (size_t i = 0; i < kk; ++i) mu[i] = win.sum[i] / m;

        std::vector<double> gram(kk * kk);
        for (size_t i = 0; i < kk; ++i) {
            for (size_t j = 0; j <= i; ++j) {
                const double g = win.gram[i * kk + j] - m * mu[i] * mu[j];
                gram[i * kk + j] = g;
                gram[j * kk + i] = g;
            }
        }
        factors[w] = cholesky_with_jitter(gram, k);
    }

    // ℓ_t = ‖L⁻¹ (y_t − μ)‖².
    std::vector<float> scores(static_cast<size_t>(n_tokens), 0.0f);
    std::vector<double> r(kk);
    for (int64_t t = range.begin; t < range.end; ++t) {
        const size_t w = static_cast<size_t>(window_of(t));
        const float* y = hs.y.data() + static_cast<size_t>(t) * kk;
        for (size_t i = 0; i < kk; ++i) r[i] = y[i] - means[w][i];
        solve_lower(factors[w], k, r.data());
        double norm2 = 0.0;
        for (size_t i = 0; i < kk; ++i) norm2 += r[i] * r[i];
        scores[static_cast<size_t>(t)] = static_cast<float>(norm2);
    }
    return scores;
}

ScoreSet LeverageScorer::finalize() {
    const int64_t n_tokens = n_seen_.empty() ? 0 : n_seen_[0];
    for (int il = 0; il < shape_.n_layer; ++il) {
        if (n_seen_[static_cast<size_t>(il)] != n_tokens) {
            throw std::runtime_error(fmt::format(
                "LeverageScorer: layer {} observed {} tokens but layer 0 observed {}; finalize after whole chunks",
                il, n_seen_[static_cast<size_t>(il)], n_tokens));
        }
    }
    const ScoredRange range = scored_range(n_tokens, options_.sink, options_.recent);

    raw_.n_tokens = n_tokens;
    raw_.scores.assign(static_cast<size_t>(shape_.n_layer), {});
    ScoreSet z;
    z.n_tokens = n_tokens;
    z.scores.resize(static_cast<size_t>(shape_.n_layer));
    // Heads are independent, so they run in parallel when a pool is known;
    // each head's arithmetic is the same either way.
    const int64_t n_heads = static_cast<int64_t>(shape_.n_layer) * shape_.n_head_kv;
    std::vector<std::vector<float>> heads(static_cast<size_t>(n_heads));
    auto score_one = [&](int64_t i) {
        heads[static_cast<size_t>(i)] =
            score_head(state(static_cast<int>(i / shape_.n_head_kv), static_cast<int>(i % shape_.n_head_kv)), n_tokens,
                       range);
    };
    if (pool_ != nullptr) {
        pool_->parallel_for(n_heads, score_one);
    } else {
        for (int64_t i = 0; i < n_heads; ++i) score_one(i);
    }

    for (int il = 0; il < shape_.n_layer; ++il) {
        std::vector<float>& layer = raw_.scores[static_cast<size_t>(il)];
        layer.reserve(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens));
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            const std::vector<float>& head = heads[static_cast<size_t>(il) * shape_.n_head_kv + h];
            layer.insert(layer.end(), head.begin(), head.end());
        }
        z.scores[static_cast<size_t>(il)] = layer;
        zscore_layer(z.scores[static_cast<size_t>(il)], shape_.n_head_kv, n_tokens, range);
    }
    return z;
}

}  // namespace compactor
