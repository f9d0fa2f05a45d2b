// compactor-test-libs: compactor_compress
// The expected_attention scorer on synthetic queries and keys: the averaged
// RoPE rotation against the model's own RoPE, the scores against a plain
// double-precision reference, and the cases whose ordering is known.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compressor.h"
#include "compress/expected_attention_scorer.h"
#include "kv/kv_cache.h"
#include "model/rope.h"

namespace compactor {
namespace {

// One layer of synthetic projections, token-major like LayerChunk.
struct Layer {
    std::vector<float> q_raw;  // [n × n_head × head_dim]
    std::vector<float> k;      // [n × n_head_kv × head_dim], post-RoPE keys as the cache stores them
    std::vector<float> v;      // [n × n_head_kv × head_dim]
};

ModelShape small_shape(RopeMode mode) {
    ModelShape shape;
    shape.n_layer = 2;
    shape.n_head = 4;
    shape.n_head_kv = 2;
    shape.head_dim = 8;
    shape.n_rot = 8;
    shape.rope_mode = mode;
    shape.rope_freq_base = 10000.0f;
    return shape;
}

Layer random_layer(const ModelShape& shape, int64_t n, uint32_t seed, float query_offset = 0.3f) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const size_t d = static_cast<size_t>(shape.head_dim);
    Layer l;
    l.q_raw.resize(static_cast<size_t>(n) * static_cast<size_t>(shape.n_head) * d);
    for (size_t i = 0; i < l.q_raw.size(); ++i) l.q_raw[i] = normal(gen) + query_offset * static_cast<float>(i % d);
    l.k.resize(static_cast<size_t>(n) * static_cast<size_t>(shape.n_head_kv) * d);
    for (float& x : l.k) x = normal(gen);
    l.v.resize(l.k.size());
    for (float& x : l.v) x = normal(gen);
    return l;
}

LayerChunk chunk_of(const ModelShape& shape, const Layer& l, int il, int64_t t0, int64_t n) {
    const size_t q_width = static_cast<size_t>(shape.n_head) * shape.head_dim;
    const size_t kv_width = static_cast<size_t>(shape.n_head_kv) * shape.head_dim;
    LayerChunk c;
    c.il = il;
    c.pos0 = t0;
    c.n_tokens = n;
    c.n_head = shape.n_head;
    c.n_head_kv = shape.n_head_kv;
    c.head_dim = shape.head_dim;
    c.q_raw = l.q_raw.data() + static_cast<size_t>(t0) * q_width;
    c.q_rope = c.q_raw;  // the scorer reads only q_raw
    c.k_raw = l.k.data() + static_cast<size_t>(t0) * kv_width;
    c.k_rope = c.k_raw;
    c.v = l.v.data() + static_cast<size_t>(t0) * kv_width;
    return c;
}

// Feed every layer in chunks of `step`, then build the cache of the same tokens.
KvCache feed(Scorer& scorer, const ModelShape& shape, const std::vector<Layer>& layers, int64_t n, int64_t step) {
    for (int64_t t0 = 0; t0 < n; t0 += step) {
        for (int il = 0; il < shape.n_layer; ++il) {
            scorer.observe(chunk_of(shape, layers[static_cast<size_t>(il)], il, t0, std::min(step, n - t0)));
        }
    }
    KvCache cache(shape.n_layer, shape.n_head_kv, shape.head_dim);
    for (int il = 0; il < shape.n_layer; ++il) {
        cache.append(il, layers[static_cast<size_t>(il)].k.data(), layers[static_cast<size_t>(il)].v.data(), n, 0);
    }
    cache.advance(n);
    return cache;
}

CompressionOptions options_for(int sink, int recent, int n_future) {
    CompressionOptions o;
    o.method = "expected_attention";
    o.sink = sink;
    o.recent = recent;
    o.n_future_positions = n_future;
    o.epsilon = 0.02;
    return o;
}

// R as a dense matrix [d × d], column j = mean over the future positions of
// apply_rope(e_j): an independent construction from the model's RoPE.
std::vector<double> dense_average_rotation(const ModelShape& shape, int64_t pos0, int n_positions) {
    const int d = shape.head_dim;
    const RopeTable table = make_rope_table(pos0, n_positions, shape.n_rot, shape.rope_freq_base, {});
    std::vector<double> r(static_cast<size_t>(d) * d, 0.0);
    std::vector<float> x(static_cast<size_t>(n_positions) * d);
    for (int j = 0; j < d; ++j) {
        std::fill(x.begin(), x.end(), 0.0f);
        for (int p = 0; p < n_positions; ++p) x[static_cast<size_t>(p * d + j)] = 1.0f;
        apply_rope(x.data(), n_positions, 1, d, shape.rope_mode, table);
        for (int p = 0; p < n_positions; ++p) {
            for (int i = 0; i < d; ++i) r[static_cast<size_t>(i * d + j)] += x[static_cast<size_t>(p * d + i)] / n_positions;
        }
    }
    return r;
}

// The scores of one layer computed naively in double from the raw inputs.
std::vector<double> reference_scores(const ModelShape& shape, const Layer& l, int64_t n, const CompressionOptions& o) {
    const int d = shape.head_dim;
    const int group = shape.n_head / shape.n_head_kv;
    const std::vector<double> r = dense_average_rotation(shape, n, o.n_future_positions);
    std::vector<double> out(static_cast<size_t>(shape.n_head_kv) * static_cast<size_t>(n), 0.0);

    for (int h = 0; h < shape.n_head_kv; ++h) {
        std::vector<double> mean_prob(static_cast<size_t>(n), 0.0);
        for (int g = 0; g < group; ++g) {
            const int hq = h * group + g;
            const int64_t m = n - o.sink;
            std::vector<double> mu(static_cast<size_t>(d), 0.0), cov(static_cast<size_t>(d) * d, 0.0);
            auto q_at = [&](int64_t t, int c) {
                return static_cast<double>(l.q_raw[static_cast<size_t>((t * shape.n_head + hq) * d + c)]);
            };
            for (int64_t t = o.sink; t < n; ++t) {
                for (int c = 0; c < d; ++c) mu[static_cast<size_t>(c)] += q_at(t, c) / m;
            }
            for (int64_t t = o.sink; t < n; ++t) {
                for (int a = 0; a < d; ++a) {
                    for (int b = 0; b < d; ++b) {
                        cov[static_cast<size_t>(a * d + b)] +=
                            (q_at(t, a) - mu[static_cast<size_t>(a)]) * (q_at(t, b) - mu[static_cast<size_t>(b)]) / m;
                    }
                }
            }
            // μ' = R μ, Σ' = R Σ Rᵀ.
            std::vector<double> mu_r(static_cast<size_t>(d), 0.0), cov_r(static_cast<size_t>(d) * d, 0.0);
            for (int a = 0; a < d; ++a) {
                for (int b = 0; b < d; ++b) mu_r[static_cast<size_t>(a)] += r[static_cast<size_t>(a * d + b)] * mu[static_cast<size_t>(b)];
            }
            for (int a = 0; a < d; ++a) {
                for (int b = 0; b < d; ++b) {
                    double sum = 0.0;
                    for (int i = 0; i < d; ++i) {
                        for (int j = 0; j < d; ++j) {
                            sum += r[static_cast<size_t>(a * d + i)] * cov[static_cast<size_t>(i * d + j)] *
                                   r[static_cast<size_t>(b * d + j)];
                        }
                    }
                    cov_r[static_cast<size_t>(a * d + b)] = sum;
                }
            }
            std::vector<double> logits;
            for (int64_t t = o.sink; t < n; ++t) {
                const float* k = l.k.data() + static_cast<size_t>((t * shape.n_head_kv + h) * d);
                double lin = 0.0, quad = 0.0;
                for (int a = 0; a < d; ++a) {
                    lin += mu_r[static_cast<size_t>(a)] * k[a];
                    for (int b = 0; b < d; ++b) quad += k[a] * cov_r[static_cast<size_t>(a * d + b)] * k[b];
                }
                logits.push_back(lin / std::sqrt(d) + quad / (2.0 * d));
            }
            const double max_logit = *std::max_element(logits.begin(), logits.end());
            double total = 0.0;
            for (double& x : logits) total += (x = std::exp(x - max_logit));
            for (int64_t t = o.sink; t < n; ++t) {
                mean_prob[static_cast<size_t>(t)] += logits[static_cast<size_t>(t - o.sink)] / total / group;
            }
        }
        for (int64_t t = o.sink; t < n - o.recent; ++t) {
            const float* v = l.v.data() + static_cast<size_t>((t * shape.n_head_kv + h) * d);
            double norm2 = 0.0;
            for (int c = 0; c < d; ++c) norm2 += static_cast<double>(v[c]) * v[c];
            out[static_cast<size_t>(h * n + t)] = (mean_prob[static_cast<size_t>(t)] + o.epsilon) * std::sqrt(norm2);
        }
    }
    return out;
}

class ExpectedAttentionRope : public ::testing::TestWithParam<RopeMode> {};

TEST_P(ExpectedAttentionRope, SinglePositionRotationEqualsRope) {
    // Averaging over one position is that position's RoPE rotation.
    const ModelShape shape = small_shape(GetParam());
    const int d = shape.head_dim;
    std::mt19937 gen(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(d));
    for (float& xi : x) xi = normal(gen);

    std::vector<double> mean(x.begin(), x.end());
    std::vector<double> covariance(static_cast<size_t>(d) * d);
    for (int a = 0; a < d; ++a) {
        for (int b = 0; b < d; ++b) covariance[static_cast<size_t>(a * d + b)] = static_cast<double>(x[a]) * x[b];
    }
    rotate_query_statistics(shape, average_rope_rotation(shape, 777, 1), mean, covariance);

    std::vector<float> rotated = x;
    apply_rope(rotated.data(), 1, 1, d, shape.rope_mode, make_rope_table(777, 1, shape.n_rot, shape.rope_freq_base, {}));
    for (int a = 0; a < d; ++a) {
        EXPECT_NEAR(mean[static_cast<size_t>(a)], rotated[static_cast<size_t>(a)], 1e-5) << "dimension " << a;
        for (int b = 0; b < d; ++b) {
            // (R x)(R x)ᵀ = R (x xᵀ) Rᵀ
            EXPECT_NEAR(covariance[static_cast<size_t>(a * d + b)],
                        static_cast<double>(rotated[static_cast<size_t>(a)]) * rotated[static_cast<size_t>(b)], 1e-5);
        }
    }
}

TEST_P(ExpectedAttentionRope, ScoresMatchDoubleReference) {
    const ModelShape shape = small_shape(GetParam());
    const int64_t n = 150;
    const CompressionOptions options = options_for(4, 3, 64);
    std::vector<Layer> layers = {random_layer(shape, n, 11), random_layer(shape, n, 12)};

    ExpectedAttentionScorer scorer(options, shape);
    const KvCache cache = feed(scorer, shape, layers, n, 37);
    const ScoreSet scores = scorer.finalize(cache);
    ASSERT_EQ(scores.n_tokens, n);
    ASSERT_EQ(scores.scores.size(), 2u);

    for (int il = 0; il < shape.n_layer; ++il) {
        const std::vector<double> expected = reference_scores(shape, layers[static_cast<size_t>(il)], n, options);
        const std::vector<float>& ours = scores.scores[static_cast<size_t>(il)];
        ASSERT_EQ(ours.size(), expected.size());
        for (size_t i = 0; i < ours.size(); ++i) {
            EXPECT_NEAR(ours[i], expected[i], 1e-5 * std::max(1.0, std::abs(expected[i]))) << "layer " << il << " index " << i;
        }
    }
}

TEST(ExpectedAttention, AverageRotationSpansBlocks) {
    // 2,500 positions take several of the blocks the average is built from.
    ModelShape shape = small_shape(RopeMode::normal);
    shape.rope_freq_divisors = {1.0f, 2.0f, 4.0f, 8.0f};
    const AverageRotation rotation = average_rope_rotation(shape, 100, 2500);
    ASSERT_EQ(rotation.cos.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        const double freq = std::pow(10000.0, -2.0 * i / 8) / shape.rope_freq_divisors[static_cast<size_t>(i)];
        double mean_cos = 0.0, mean_sin = 0.0;
        for (int64_t pos = 100; pos < 2600; ++pos) {
            mean_cos += std::cos(static_cast<double>(pos) * freq) / 2500;
            mean_sin += std::sin(static_cast<double>(pos) * freq) / 2500;
        }
        EXPECT_NEAR(rotation.cos[static_cast<size_t>(i)], mean_cos, 1e-6) << "pair " << i;
        EXPECT_NEAR(rotation.sin[static_cast<size_t>(i)], mean_sin, 1e-6) << "pair " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Modes, ExpectedAttentionRope, ::testing::Values(RopeMode::normal, RopeMode::neox));

TEST(ExpectedAttention, ZeroCovarianceOrdersByMeanDot) {
    // Every query equal: Σ = 0, so the score is softmax(μ'·k/√d) and its
    // order is the order of μ'·k.
    ModelShape shape = small_shape(RopeMode::normal);
    shape.n_layer = 1;
    const int64_t n = 60;
    const int d = shape.head_dim;
    Layer l = random_layer(shape, n, 5);
    for (int64_t t = 0; t < n; ++t) {
        for (int hq = 0; hq < shape.n_head; ++hq) {
            for (int c = 0; c < d; ++c) l.q_raw[static_cast<size_t>((t * shape.n_head + hq) * d + c)] = 0.5f * (c - 3);
        }
    }
    CompressionOptions options = options_for(2, 0, 1);
    options.value_weighting = false;

    ExpectedAttentionScorer scorer(options, shape);
    const KvCache cache = feed(scorer, shape, {l}, n, 16);
    const ScoreSet scores = scorer.finalize(cache);

    const ExpectedAttentionScorer::QueryStatistics stats = scorer.query_statistics(0, 0);
    ASSERT_EQ(stats.n_queries, n - 2);
    for (double c : stats.covariance) EXPECT_NEAR(c, 0.0, 1e-9);

    // μ' is the mean rotated to position n (one future position).
    std::vector<float> mu(static_cast<size_t>(d));
    for (int c = 0; c < d; ++c) mu[static_cast<size_t>(c)] = 0.5f * (c - 3);
    apply_rope(mu.data(), 1, 1, d, shape.rope_mode, make_rope_table(n, 1, shape.n_rot, shape.rope_freq_base, {}));

    for (int h = 0; h < shape.n_head_kv; ++h) {
        std::vector<double> dots;
        double total = 0.0;
        for (int64_t t = 2; t < n; ++t) {
            double dot = 0.0;
            for (int c = 0; c < d; ++c) dot += mu[static_cast<size_t>(c)] * l.k[static_cast<size_t>((t * shape.n_head_kv + h) * d + c)];
            dots.push_back(dot);
            total += std::exp(dot / std::sqrt(d));
        }
        for (int64_t t = 2; t < n; ++t) {
            const double expected = std::exp(dots[static_cast<size_t>(t - 2)] / std::sqrt(d)) / total;
            EXPECT_NEAR(scores.scores[0][static_cast<size_t>(h * n + t)], expected, 1e-6) << "head " << h << " token " << t;
        }
    }
}

TEST(ExpectedAttention, LargeMeanKeepsCovariance) {
    // Queries far from the origin relative to their spread: Σ q qᵀ / m − μ μᵀ
    // would cancel almost every digit without the shift.
    ModelShape shape = small_shape(RopeMode::normal);
    shape.n_layer = 1;
    const int64_t n = 700;
    const int d = shape.head_dim;
    Layer l = random_layer(shape, n, 71, 0.0f);
    for (size_t i = 0; i < l.q_raw.size(); ++i) l.q_raw[i] = 500.0f + 0.01f * l.q_raw[i];

    ExpectedAttentionScorer scorer(options_for(4, 4, 8), shape);
    feed(scorer, shape, {l}, n, 128);
    for (int hq = 0; hq < shape.n_head; ++hq) {
        const ExpectedAttentionScorer::QueryStatistics stats = scorer.query_statistics(0, hq);
        std::vector<double> mean(static_cast<size_t>(d), 0.0);
        for (int64_t t = 4; t < n; ++t) {
            for (int c = 0; c < d; ++c) mean[static_cast<size_t>(c)] += l.q_raw[static_cast<size_t>((t * shape.n_head + hq) * d + c)];
        }
        for (double& x : mean) x /= static_cast<double>(n - 4);
        for (int a = 0; a < d; ++a) {
            EXPECT_NEAR(stats.mean[static_cast<size_t>(a)], mean[static_cast<size_t>(a)], 1e-4);
            for (int b = 0; b < d; ++b) {
                double expected = 0.0;
                for (int64_t t = 4; t < n; ++t) {
                    const float* q = l.q_raw.data() + static_cast<size_t>((t * shape.n_head + hq) * d);
                    expected += (q[a] - mean[static_cast<size_t>(a)]) * (q[b] - mean[static_cast<size_t>(b)]);
                }
                expected /= static_cast<double>(n - 4);
                // The entries are about 1e-4 (spread 0.01); 500² would swamp them in float.
                EXPECT_NEAR(stats.covariance[static_cast<size_t>(a * d + b)], expected, 2e-6)
                    << "head " << hq << " entry (" << a << ", " << b << ")";
            }
        }
    }
}

TEST(ExpectedAttention, KeyAlignedWithMeanRanksFirst) {
    ModelShape shape = small_shape(RopeMode::neox);
    shape.n_layer = 1;
    const int64_t n = 80;
    const int d = shape.head_dim;
    Layer l = random_layer(shape, n, 9, 0.0f);

    // Queries: a shared mean plus small noise, so the covariance term is small.
    std::vector<float> mean(static_cast<size_t>(d));
    for (int c = 0; c < d; ++c) mean[static_cast<size_t>(c)] = (c % 3 == 0 ? 1.5f : -0.7f);
    std::mt19937 gen(2);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (int64_t t = 0; t < n; ++t) {
        for (int hq = 0; hq < shape.n_head; ++hq) {
            for (int c = 0; c < d; ++c) {
                l.q_raw[static_cast<size_t>((t * shape.n_head + hq) * d + c)] = mean[static_cast<size_t>(c)] + noise(gen);
            }
        }
    }
    // Every key has norm 3; key 40 of each head points along the rotated mean.
    std::vector<double> target(mean.begin(), mean.end());
    std::vector<double> no_covariance;
    rotate_query_statistics(shape, average_rope_rotation(shape, n, 16), target, no_covariance);
    double target_norm = 0.0;
    for (double x : target) target_norm += x * x;
    target_norm = std::sqrt(target_norm);
    for (int64_t t = 0; t < n; ++t) {
        for (int h = 0; h < shape.n_head_kv; ++h) {
            float* k = l.k.data() + static_cast<size_t>((t * shape.n_head_kv + h) * d);
            double norm = 0.0;
            for (int c = 0; c < d; ++c) norm += static_cast<double>(k[c]) * k[c];
            for (int c = 0; c < d; ++c) {
                k[c] = t == 40 ? static_cast<float>(3.0 * target[static_cast<size_t>(c)] / target_norm)
                               : static_cast<float>(3.0 * k[c] / std::sqrt(norm));
            }
        }
    }
    CompressionOptions options = options_for(4, 4, 16);
    options.value_weighting = false;

    ExpectedAttentionScorer scorer(options, shape);
    const KvCache cache = feed(scorer, shape, {l}, n, 80);
    const ScoreSet scores = scorer.finalize(cache);
    for (int h = 0; h < shape.n_head_kv; ++h) {
        const float* row = scores.scores[0].data() + static_cast<size_t>(h) * n;
        EXPECT_EQ(std::max_element(row, row + n) - row, 40) << "head " << h;
    }
}

TEST(ExpectedAttention, ProtectedTokensScoreZero) {
    const ModelShape shape = small_shape(RopeMode::normal);
    const int64_t n = 50;
    std::vector<Layer> layers = {random_layer(shape, n, 1), random_layer(shape, n, 2)};
    ExpectedAttentionScorer scorer(options_for(5, 6, 32), shape);
    const ScoreSet scores = scorer.finalize(feed(scorer, shape, layers, n, 50));
    for (const std::vector<float>& layer : scores.scores) {
        for (int h = 0; h < shape.n_head_kv; ++h) {
            for (int64_t t = 0; t < n; ++t) {
                const float s = layer[static_cast<size_t>(h * n + t)];
                if (t < 5 || t >= n - 6) {
                    EXPECT_EQ(s, 0.0f) << "protected token " << t;
                } else {
                    EXPECT_GT(s, 0.0f) << "token " << t;
                    EXPECT_TRUE(std::isfinite(s));
                }
            }
        }
    }
}

TEST(ExpectedAttention, RecentWindowDoesNotChangeScores) {
    // The softmax runs over every key past the sink, as kvpress's does, so the
    // recent window only masks scores.
    const ModelShape shape = small_shape(RopeMode::normal);
    const int64_t n = 90;
    std::vector<Layer> layers = {random_layer(shape, n, 21), random_layer(shape, n, 22)};
    ExpectedAttentionScorer without(options_for(4, 0, 32), shape);
    ExpectedAttentionScorer with(options_for(4, 10, 32), shape);
    const ScoreSet a = without.finalize(feed(without, shape, layers, n, 30));
    const ScoreSet b = with.finalize(feed(with, shape, layers, n, 30));
    for (int il = 0; il < shape.n_layer; ++il) {
        for (int h = 0; h < shape.n_head_kv; ++h) {
            for (int64_t t = 4; t < n - 10; ++t) {
                const size_t i = static_cast<size_t>(h * n + t);
                EXPECT_FLOAT_EQ(a.scores[static_cast<size_t>(il)][i], b.scores[static_cast<size_t>(il)][i]);
            }
        }
    }
}

TEST(ExpectedAttention, ChunkingDoesNotChangeScores) {
    const ModelShape shape = small_shape(RopeMode::neox);
    const int64_t n = 120;
    std::vector<Layer> layers = {random_layer(shape, n, 31), random_layer(shape, n, 32)};
    ExpectedAttentionScorer one(options_for(4, 4, 64), shape);
    ExpectedAttentionScorer many(options_for(4, 4, 64), shape);
    const ScoreSet a = one.finalize(feed(one, shape, layers, n, 120));
    const ScoreSet b = many.finalize(feed(many, shape, layers, n, 7));
    for (int il = 0; il < shape.n_layer; ++il) {
        for (size_t i = 0; i < a.scores[static_cast<size_t>(il)].size(); ++i) {
            EXPECT_NEAR(a.scores[static_cast<size_t>(il)][i], b.scores[static_cast<size_t>(il)][i], 1e-6);
        }
    }
}

TEST(ExpectedAttention, CompressKeepsHalfPerHead) {
    const ModelShape shape = small_shape(RopeMode::normal);
    const int64_t n = 100;
    std::vector<Layer> layers = {random_layer(shape, n, 41), random_layer(shape, n, 42)};
    for (BudgetMode budget : {BudgetMode::per_head, BudgetMode::per_layer}) {
        CompressionOptions options = options_for(4, 4, 64);
        options.ratio = 0.5;
        options.budget = budget;
        ExpectedAttentionScorer scorer(options, shape);
        KvCache cache = feed(scorer, shape, layers, n, 32);
        const CompressionReport report = compress(cache, &scorer, options);
        EXPECT_FALSE(report.skipped);
        EXPECT_NEAR(report.kept_fraction, 0.5, 0.01);
        if (budget == BudgetMode::per_head) {
            for (int il = 0; il < shape.n_layer; ++il) {
                for (int h = 0; h < shape.n_head_kv; ++h) EXPECT_EQ(cache.length(il, h), 50);
            }
        }
    }
}

TEST(ExpectedAttention, RejectsMismatchedCache) {
    const ModelShape shape = small_shape(RopeMode::normal);
    const int64_t n = 40;
    std::vector<Layer> layers = {random_layer(shape, n, 51), random_layer(shape, n, 52)};
    ExpectedAttentionScorer scorer(options_for(4, 4, 8), shape);
    KvCache cache = feed(scorer, shape, layers, n, 40);
    const std::vector<int64_t> keep = {0, 1, 2};
    cache.compact(1, 0, keep);
    EXPECT_THROW(scorer.finalize(cache), std::invalid_argument);
    EXPECT_THROW(scorer.finalize(KvCache(1, 2, 8)), std::invalid_argument);
}

TEST(ExpectedAttention, RejectsOutOfOrderChunk) {
    const ModelShape shape = small_shape(RopeMode::normal);
    const Layer l = random_layer(shape, 20, 61);
    ExpectedAttentionScorer scorer(options_for(4, 4, 8), shape);
    scorer.observe(chunk_of(shape, l, 0, 0, 10));
    EXPECT_THROW(scorer.observe(chunk_of(shape, l, 0, 0, 10)), std::invalid_argument);
}

TEST(ExpectedAttention, RejectsBadRopeDivisors) {
    ModelShape shape = small_shape(RopeMode::normal);
    shape.rope_freq_divisors = {1.0f, 2.0f};  // n_rot / 2 = 4 expected
    EXPECT_THROW(ExpectedAttentionScorer(options_for(4, 4, 8), shape), std::invalid_argument);
}

}  // namespace
}  // namespace compactor
