// compactor-test-libs: compactor_compress
//
// Approximate leverage scores against the exact ones, computed here in
// double by the direct formula ℓ_t = x_tᵀ (XᵀX)⁻¹ x_t on the centered keys X.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "compress/cholesky.h"
#include "compress/leverage_scorer.h"
#include "test_compress_synthetic.h"

namespace compactor {
namespace {

using test::SyntheticLayer;

// Inverse of a symmetric positive definite [d × d] matrix by Gauss-Jordan
// elimination with partial pivoting.
std::vector<double> inverse(std::vector<double> a, int d) {
    const size_t n = static_cast<size_t>(d);
    std::vector<double> inv(n * n, 0.0);
    for (size_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
    for (size_t c = 0; c < n; ++c) {
        size_t pivot = c;
        for (size_t r = c + 1; r < n; ++r) {
            if (std::abs(a[r * n + c]) > std::abs(a[pivot * n + c])) pivot = r;
        }
        for (size_t j = 0; j < n; ++j) {
            std::swap(a[c * n + j], a[pivot * n + j]);
            std::swap(inv[c * n + j], inv[pivot * n + j]);
        }
        const double p = a[c * n + c];
        for (size_t j = 0; j < n; ++j) {
            a[c * n + j] /= p;
            inv[c * n + j] /= p;
        }
        for (size_t r = 0; r < n; ++r) {
            if (r == c) continue;
            const double f = a[r * n + c];
            for (size_t j = 0; j < n; ++j) {
                a[r * n + j] -= f * a[c * n + j];
                inv[r * n + j] -= f * inv[c * n + j];
            }
        }
    }
    return inv;
}

// Exact leverage of tokens [t0, t1) of KV head h among themselves.
std::vector<double> exact_leverage(const SyntheticLayer& l, const ModelShape& shape, int h, int64_t t0, int64_t t1) {
    const size_t d = static_cast<size_t>(shape.head_dim);
    const size_t m = static_cast<size_t>(t1 - t0);
    std::vector<double> x(m * d);
    std::vector<double> mean(d, 0.0);
    for (size_t i = 0; i < m; ++i) {
        const float* key = l.k_raw.data() + ((static_cast<size_t>(t0) + i) * shape.n_head_kv + h) * d;
        for (size_t c = 0; c < d; ++c) {
            x[i * d + c] = key[c];
            mean[c] += key[c] / static_cast<double>(m);
        }
    }
    for (size_t i = 0; i < m; ++i) {
        for (size_t c = 0; c < d; ++c) x[i * d + c] -= mean[c];
    }

    std::vector<double> gram(d * d, 0.0);
    for (size_t i = 0; i < m; ++i) {
        for (size_t a = 0; a < d; ++a) {
            for (size_t b = 0; b < d; ++b) gram[a * d + b] += x[i * d + a] * x[i * d + b];
        }
    }
    const std::vector<double> gram_inv = inverse(gram, shape.head_dim);

    std::vector<double> lev(m, 0.0);
    for (size_t i = 0; i < m; ++i) {
        for (size_t a = 0; a < d; ++a) {
            for (size_t b = 0; b < d; ++b) lev[i] += x[i * d + a] * gram_inv[a * d + b] * x[i * d + b];
        }
    }
    return lev;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
    const double n = static_cast<double>(a.size());
    double ma = 0, mb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ma += a[i] / n;
        mb += b[i] / n;
    }
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / std::sqrt(saa * sbb);
}

// Raw leverage of head h over tokens [t0, t1) from a finalized scorer.
std::vector<double> scorer_leverage(const LeverageScorer& scorer, int h, int64_t t0, int64_t t1) {
    const ScoreSet& raw = scorer.raw_scores();
    std::vector<double> out;
    for (int64_t t = t0; t < t1; ++t) out.push_back(raw.scores[0][static_cast<size_t>(h * raw.n_tokens + t)]);
    return out;
}

CompressionOptions leverage_options(int sketch_dim) {
    CompressionOptions o;
    o.method = "leverage";
    o.sketch_dim = sketch_dim;
    o.sink = 8;
    o.recent = 4;
    return o;
}

// The identity as a [d × d] sketch.
std::vector<float> identity_sketch(int d) {
    std::vector<float> phi(static_cast<size_t>(d) * static_cast<size_t>(d), 0.0f);
    for (int i = 0; i < d; ++i) phi[static_cast<size_t>(i * d + i)] = 1.0f;
    return phi;
}

TEST(CompressLeverage, IdentitySketchEqualsExact) {
    // With Φ = I the sketched leverage is the exact one but for the 1e-2
    // jitter, small next to the Gram's eigenvalues here.
    const ModelShape shape{1, 2, 2, 16};
    const int64_t n = 400;
    const SyntheticLayer l = test::make_layer(shape, n, 11, 16);
    LeverageScorer scorer(leverage_options(16), shape);
    for (int h = 0; h < shape.n_head_kv; ++h) scorer.set_sketch(0, h, identity_sketch(16));
    test::feed_model(scorer, shape, {l}, n, 64);
    scorer.finalize();

    for (int h = 0; h < shape.n_head_kv; ++h) {
        const std::vector<double> exact = exact_leverage(l, shape, h, 8, n - 4);
        const std::vector<double> approx = scorer_leverage(scorer, h, 8, n - 4);
        double worst = 0.0;
        for (size_t i = 0; i < exact.size(); ++i) worst = std::max(worst, std::abs(approx[i] - exact[i]) / exact[i]);
        EXPECT_LT(worst, 1e-3) << "head " << h;
    }
}

TEST(CompressLeverage, SketchCorrelatesWithExact) {
    const ModelShape shape{1, 2, 2, 32};
    const int64_t n = 600;
    const SyntheticLayer l = test::make_layer(shape, n, 12, 6);
    LeverageScorer scorer(leverage_options(12), shape);
    test::feed_model(scorer, shape, {l}, n, 100);
    scorer.finalize();

    for (int h = 0; h < shape.n_head_kv; ++h) {
        const double r = pearson(exact_leverage(l, shape, h, 8, n - 4), scorer_leverage(scorer, h, 8, n - 4));
        std::printf("head %d: Pearson r between sketched (k = 12) and exact leverage: %.4f\n", h, r);
        EXPECT_GT(r, 0.9) << "head " << h;
    }
}

TEST(CompressLeverage, WindowsUseTheirOwnStatistics) {
    const ModelShape shape{1, 2, 1, 8};
    const int64_t n = 262;  // scored tokens 8..257: windows of 100, 100, 50
    const SyntheticLayer l = test::make_layer(shape, n, 13, 8);
    CompressionOptions o = leverage_options(8);
    o.leverage_window = 100;
    LeverageScorer scorer(o, shape);
    scorer.set_sketch(0, 0, identity_sketch(8));
    test::feed_model(scorer, shape, {l}, n, 37);
    scorer.finalize();

    for (int64_t w0 : {8, 108, 208}) {
        const int64_t w1 = std::min<int64_t>(w0 + 100, n - 4);
        const std::vector<double> exact = exact_leverage(l, shape, 0, w0, w1);
        const std::vector<double> approx = scorer_leverage(scorer, 0, w0, w1);
        for (size_t i = 0; i < exact.size(); ++i) {
            EXPECT_NEAR(approx[i], exact[i], 2e-3 * exact[i] + 1e-5) << "window at " << w0 << " token " << i;
        }
    }
}

TEST(CompressLeverage, DegenerateKeysGiveFiniteScores) {
    const ModelShape shape{1, 1, 1, 64};
    const int64_t n = 4000;
    for (float magnitude : {1.0f, 1000.0f}) {
        test::SyntheticLayer l = test::make_layer(shape, n, 14);
        for (int64_t t = 0; t < n; ++t) {
            for (int c = 0; c < 64; ++c)
                l.k_raw[static_cast<size_t>(t * 64 + c)] = magnitude * std::sin(0.1f * c + 1.0f);
        }
        LeverageScorer scorer(leverage_options(48), shape);
        test::feed_model(scorer, shape, {l}, n, 512);
        const ScoreSet z = scorer.finalize();
        for (int64_t t = 0; t < n; ++t) {
            ASSERT_TRUE(std::isfinite(scorer.raw_scores().scores[0][static_cast<size_t>(t)]))
                << "magnitude " << magnitude << " token " << t;
            ASSERT_TRUE(std::isfinite(z.scores[0][static_cast<size_t>(t)]))
                << "magnitude " << magnitude << " token " << t;
        }
    }
}

TEST(CompressLeverage, CholeskyJitterGrowsWithTrace) {
    // diag(1e8, 1e8, -1): the absolute 1e-2 jitter cannot lift the last
    // eigenvalue, the trace-relative retry can.
    const std::vector<double> gram = {1e8, 0, 0, 0, 1e8, 0, 0, 0, -1};
    const std::vector<double> lower = cholesky_with_jitter(gram, 3);
    EXPECT_GT(lower[8], 0.0);
    EXPECT_NEAR(lower[0] * lower[0], 1e8, 1e3);

    const std::vector<double> nan_gram = {1, 0, 0, std::nan("")};
    EXPECT_THROW(cholesky_with_jitter(nan_gram, 2), std::runtime_error);

    // L Lᵀ reproduces a well-conditioned Gram plus 1e-2 I.
    const std::vector<double> spd = {4, 2, 2, 3};
    const std::vector<double> l = cholesky_with_jitter(spd, 2);
    EXPECT_NEAR(l[0] * l[0], 4.01, 1e-12);
    EXPECT_NEAR(l[2] * l[0], 2.0, 1e-12);
    EXPECT_NEAR(l[2] * l[2] + l[3] * l[3], 3.01, 1e-12);
    EXPECT_EQ(l[1], 0.0);
}

TEST(CompressLeverage, ChunkingDoesNotChangeScores) {
    const ModelShape shape{2, 2, 2, 16};
    const int64_t n = 300;
    const std::vector<SyntheticLayer> layers = test::make_model(shape, n, 15);
    LeverageScorer one_shot(leverage_options(8), shape);
    test::feed_model(one_shot, shape, layers, n, n);
    const ScoreSet expected = one_shot.finalize();

    for (int64_t step : {1, 7, 64}) {
        LeverageScorer chunked(leverage_options(8), shape);
        test::feed_model(chunked, shape, layers, n, step);
        const ScoreSet got = chunked.finalize();
        for (size_t il = 0; il < 2; ++il) {
            for (size_t i = 0; i < got.scores[il].size(); ++i) {
                EXPECT_NEAR(got.scores[il][i], expected.scores[il][i], 1e-4) << "step " << step << " index " << i;
            }
        }
    }
}

TEST(CompressLeverage, SeedDeterminesSketch) {
    const ModelShape shape{2, 2, 2, 16};
    CompressionOptions o = leverage_options(8);
    o.seed = 42;
    const LeverageScorer a(o, shape);
    const LeverageScorer b(o, shape);
    o.seed = 43;
    const LeverageScorer c(o, shape);

    const auto same = [](std::span<const float> x, std::span<const float> y) {
        return std::equal(x.begin(), x.end(), y.begin(), y.end());
    };
    EXPECT_TRUE(same(a.sketch(1, 1), b.sketch(1, 1)));
    EXPECT_FALSE(same(a.sketch(1, 1), c.sketch(1, 1)));
    EXPECT_FALSE(same(a.sketch(0, 1), a.sketch(1, 1)));
    EXPECT_FALSE(same(a.sketch(1, 0), a.sketch(1, 1)));

    // Entries are N(0, 1/k): the mean square over all 16 × 8 entries is near 1/8.
    double mean_square = 0.0;
    for (float x : a.sketch(0, 0)) mean_square += x * x / 128.0;
    EXPECT_NEAR(mean_square, 1.0 / 8.0, 0.04);
}

TEST(CompressLeverage, InjectedSketchIsUsed) {
    const ModelShape shape{1, 2, 1, 4};
    LeverageScorer scorer(leverage_options(2), shape);
    const std::vector<float> phi = {1, 0, 0, 1, 0, 0, 0, 0};  // [4 × 2]: keeps dimensions 0 and 1
    scorer.set_sketch(0, 0, phi);
    EXPECT_TRUE(std::equal(phi.begin(), phi.end(), scorer.sketch(0, 0).begin()));

    EXPECT_THROW(scorer.set_sketch(0, 0, std::vector<float>(7)), std::invalid_argument);
    EXPECT_THROW(scorer.set_sketch(1, 0, phi), std::invalid_argument);

    const SyntheticLayer l = test::make_layer(shape, 20, 16);
    test::feed_model(scorer, shape, {l}, 20, 20);
    EXPECT_THROW(scorer.set_sketch(0, 0, phi), std::invalid_argument);
}

TEST(CompressLeverage, OutOfOrderChunkRejected) {
    const ModelShape shape{1, 2, 1, 8};
    LeverageScorer scorer(leverage_options(4), shape);
    const SyntheticLayer l = test::make_layer(shape, 40, 17);
    scorer.observe(test::chunk_of(shape, l, 0, 0, 10));
    EXPECT_THROW(scorer.observe(test::chunk_of(shape, l, 0, 20, 10)), std::invalid_argument);
    ModelShape other = shape;
    other.head_dim = 4;
    EXPECT_THROW(scorer.observe(test::chunk_of(other, l, 0, 10, 10)), std::invalid_argument);
}

// finalize() spreads heads over the pool that observe() saw. The scores must
// be the same bits as a serial run, for the compactor blend and both parts.
TEST(CompressLeverage, PoolGivesSerialScores) {
    const ModelShape shape{3, 6, 2, 16};
    const int64_t n_tokens = 700;
    const std::vector<SyntheticLayer> layers = test::make_model(shape, n_tokens, 31);
    CompressionOptions options;
    options.attn_chunk = 128;
    ThreadPool pool(3);

    for (const char* method : {"compactor", "leverage", "chunked_attention"}) {
        options.method = method;
        const auto serial = make_scorer(options, shape);
        const auto pooled = make_scorer(options, shape);
        test::feed_model(*serial, shape, layers, n_tokens, 256);
        test::feed_model(*pooled, shape, layers, n_tokens, 256, &pool);

        const ScoreSet expected = serial->finalize(KvCache{});
        const ScoreSet actual = pooled->finalize(KvCache{});
        ASSERT_EQ(actual.scores.size(), expected.scores.size()) << method;
        for (size_t il = 0; il < expected.scores.size(); ++il) {
            EXPECT_EQ(actual.scores[il], expected.scores[il]) << method << " layer " << il;
        }
    }
}

}  // namespace
}  // namespace compactor
