// compactor-test-libs: compactor_compress
//
// The baseline scorers (exact_leverage, streaming_llm, knorm, random, snapkv,
// pyramidkv, tova, keydiff) on synthetic prefill data: hand-checkable cases,
// plain-loop recomputations in double, and compress() in both budget modes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compress/exact_leverage_scorer.h"
#include "compress/keydiff_scorer.h"
#include "compress/knorm_scorer.h"
#include "compress/leverage_scorer.h"
#include "compress/pyramidkv_scorer.h"
#include "compress/random_scorer.h"
#include "compress/snapkv_scorer.h"
#include "compress/tova_scorer.h"
#include "compress/window_attention.h"
#include "kv/kv_cache.h"
#include "test_compress_synthetic.h"

namespace compactor {
namespace {

using test::SyntheticLayer;

const std::vector<std::string> kBaselines = {"exact_leverage", "streaming_llm", "knorm",     "random",
                                             "snapkv",         "pyramidkv",     "tova",      "keydiff"};

// Three layers, two KV heads with three query heads each.
const ModelShape kShape{3, 6, 2, 16};

CompressionOptions options_for(const std::string& method) {
    CompressionOptions o;
    o.method = method;
    o.window = 16;
    o.seed = 3;
    return o;
}

// A cache filled with the layers' post-RoPE keys and values, as the prefill
// leaves it.
KvCache cache_of(const ModelShape& shape, const std::vector<SyntheticLayer>& layers, int64_t n) {
    KvCache cache(shape.n_layer, shape.n_head_kv, shape.head_dim);
    for (int il = 0; il < shape.n_layer; ++il) {
        const SyntheticLayer& l = layers[static_cast<size_t>(il)];
        cache.append(il, l.k_rope.data(), l.v.data(), n, 0);
    }
    cache.advance(n);
    return cache;
}

struct Prefilled {
    std::vector<SyntheticLayer> layers;
    KvCache cache;
    std::unique_ptr<Scorer> scorer;
};

Prefilled prefill(const CompressionOptions& o, const ModelShape& shape, int64_t n, int64_t step = 48,
                  uint32_t seed = 21) {
    Prefilled p;
    p.layers = test::make_model(shape, n, seed);
    p.cache = cache_of(shape, p.layers, n);
    p.scorer = make_scorer(o, shape);
    test::feed_model(*p.scorer, shape, p.layers, n, step);
    return p;
}

// Post-RoPE key of token t, head h, as the cache stores it.
const float* key_of(const SyntheticLayer& l, const ModelShape& shape, int h, int64_t t) {
    return l.k_rope.data() + (static_cast<size_t>(t) * shape.n_head_kv + h) * shape.head_dim;
}

const float* query_of(const SyntheticLayer& l, const ModelShape& shape, int hq, int64_t t) {
    return l.q_rope.data() + (static_cast<size_t>(t) * shape.n_head + hq) * shape.head_dim;
}

// Softmax probabilities [n] of query q over keys 0..visible−1 of head h, with
// logits q·k / √d, in double; masked keys get 0.
std::vector<double> attention_probs(const float* q, const SyntheticLayer& l, const ModelShape& shape, int h,
                                    int64_t n, int64_t visible) {
    std::vector<double> p(static_cast<size_t>(n), 0.0);
    double max_logit = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < visible; ++j) {
        const float* k = key_of(l, shape, h, j);
        double dot = 0.0;
        for (int c = 0; c < shape.head_dim; ++c) dot += static_cast<double>(q[c]) * k[c];
        p[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(shape.head_dim));
        max_logit = std::max(max_logit, p[static_cast<size_t>(j)]);
    }
    double total = 0.0;
    for (int64_t j = 0; j < visible; ++j) {
        p[static_cast<size_t>(j)] = std::exp(p[static_cast<size_t>(j)] - max_logit);
        total += p[static_cast<size_t>(j)];
    }
    for (int64_t j = 0; j < visible; ++j) p[static_cast<size_t>(j)] /= total;
    return p;
}

float score_at(const ScoreSet& s, int il, int h, int64_t t) {
    return s.scores[static_cast<size_t>(il)][static_cast<size_t>(h * s.n_tokens + t)];
}

std::vector<int32_t> kept_positions(const KvCache& cache, int il, int h) {
    const std::span<const int32_t> p = cache.positions(il, h);
    return {p.begin(), p.end()};
}

// --- every method -----------------------------------------------------------

class EveryBaseline : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryBaseline, PerHeadKeepsEqualCounts) {
    const int64_t n = 200;
    CompressionOptions o = options_for(GetParam());
    o.budget = BudgetMode::per_head;
    o.ratio = 0.6;
    Prefilled p = prefill(o, kShape, n);

    const CompressionReport r = compress(p.cache, p.scorer.get(), o);
    EXPECT_FALSE(r.skipped);
    EXPECT_GT(r.score_s, 0.0);
    const bool pyramid = GetParam() == "pyramidkv";
    for (int il = 0; il < kShape.n_layer; ++il) {
        for (int h = 0; h < kShape.n_head_kv; ++h) {
            const std::vector<int32_t> kept = kept_positions(p.cache, il, h);
            if (!pyramid) {
                EXPECT_EQ(kept.size(), 80u) << "layer " << il << " head " << h;
            }
            EXPECT_EQ(p.cache.length(il, h), p.cache.length(il, 0)) << "layer " << il << " head " << h;
            const std::set<int32_t> set(kept.begin(), kept.end());
            for (int32_t t = 0; t < o.sink; ++t) EXPECT_TRUE(set.count(t)) << "sink token " << t;
            for (int32_t t = n - o.recent; t < n; ++t) EXPECT_TRUE(set.count(t)) << "recent token " << t;
        }
    }
    EXPECT_EQ(r.rows_after, kShape.n_layer * kShape.n_head_kv * 80);
}

TEST_P(EveryBaseline, PerLayerKeepsLayerTotal) {
    const int64_t n = 200;
    CompressionOptions o = options_for(GetParam());
    o.budget = BudgetMode::per_layer;
    o.ratio = 0.6;
    Prefilled p = prefill(o, kShape, n);

    const CompressionReport r = compress(p.cache, p.scorer.get(), o);
    EXPECT_FALSE(r.skipped);
    EXPECT_EQ(r.rows_after, kShape.n_layer * kShape.n_head_kv * 80);
    const int64_t floor = static_cast<int64_t>(std::floor(o.head_floor * 80));
    for (int il = 0; il < kShape.n_layer; ++il) {
        for (int h = 0; h < kShape.n_head_kv; ++h) EXPECT_GE(p.cache.length(il, h), floor);
    }
}

TEST_P(EveryBaseline, FinalizeRejectsMismatchedCache) {
    const int64_t n = 90;
    const CompressionOptions o = options_for(GetParam());
    Prefilled p = prefill(o, kShape, n);

    // One head already compacted.
    std::vector<int64_t> keep(40);
    std::iota(keep.begin(), keep.end(), 0);
    KvCache compacted = cache_of(kShape, p.layers, n);
    compacted.compact(1, 1, keep);
    EXPECT_THROW(p.scorer->finalize(compacted), std::invalid_argument);

    // A cache of another shape.
    EXPECT_THROW(p.scorer->finalize(KvCache(kShape.n_layer, kShape.n_head_kv, 8)), std::invalid_argument);
    EXPECT_THROW(p.scorer->finalize(KvCache{}), std::invalid_argument);

    // The scorer saw fewer tokens than the cache holds.
    std::unique_ptr<Scorer> short_scorer = make_scorer(o, kShape);
    test::feed_model(*short_scorer, kShape, p.layers, 60, 30);
    EXPECT_THROW(short_scorer->finalize(p.cache), std::invalid_argument);

    EXPECT_NO_THROW(p.scorer->finalize(p.cache));
}

TEST_P(EveryBaseline, ObserveRejectsBadChunks) {
    const CompressionOptions o = options_for(GetParam());
    std::unique_ptr<Scorer> scorer = make_scorer(o, kShape);
    const SyntheticLayer l = test::make_layer(kShape, 40, 22);
    scorer->observe(test::chunk_of(kShape, l, 0, 0, 10));
    EXPECT_THROW(scorer->observe(test::chunk_of(kShape, l, 0, 20, 10)), std::invalid_argument);
    EXPECT_THROW(scorer->observe(test::chunk_of(kShape, l, 3, 0, 10)), std::invalid_argument);
    ModelShape other = kShape;
    other.head_dim = 8;
    EXPECT_THROW(scorer->observe(test::chunk_of(other, l, 0, 10, 10)), std::invalid_argument);
}

TEST_P(EveryBaseline, ChunkingDoesNotChangeScores) {
    const int64_t n = 130;
    const CompressionOptions o = options_for(GetParam());
    Prefilled one_shot = prefill(o, kShape, n, n);
    const ScoreSet expected = one_shot.scorer->finalize(one_shot.cache);

    for (int64_t step : {1, 7, 64}) {
        Prefilled chunked = prefill(o, kShape, n, step);
        const ScoreSet got = chunked.scorer->finalize(chunked.cache);
        ASSERT_EQ(got.n_tokens, n);
        for (size_t il = 0; il < got.scores.size(); ++il) {
            ASSERT_EQ(got.scores[il].size(), expected.scores[il].size());
            for (size_t i = 0; i < got.scores[il].size(); ++i) {
                ASSERT_NEAR(got.scores[il][i], expected.scores[il][i], 1e-4)
                    << "step " << step << " layer " << il << " index " << i;
            }
        }
    }
}

TEST_P(EveryBaseline, ShortContextsScoreFinite) {
    CompressionOptions o = options_for(GetParam());
    o.sink = 0;
    o.recent = 0;
    for (int64_t n : {1, 2, 5, 16, 17}) {
        Prefilled p = prefill(o, kShape, n, 4);
        const ScoreSet s = p.scorer->finalize(p.cache);
        ASSERT_EQ(s.n_tokens, n);
        for (const std::vector<float>& layer : s.scores) {
            ASSERT_EQ(static_cast<int64_t>(layer.size()), kShape.n_head_kv * n);
            for (float x : layer) ASSERT_TRUE(std::isfinite(x)) << "n_tokens " << n;
        }
        EXPECT_NO_THROW(compress(p.cache, p.scorer.get(), o)) << "n_tokens " << n;
    }
}

INSTANTIATE_TEST_SUITE_P(Methods, EveryBaseline, ::testing::ValuesIn(kBaselines));

TEST(CompressBaselines, FactoriesBuildEveryMethod) {
    for (const std::string& method : kBaselines) {
        EXPECT_NE(make_scorer(options_for(method), kShape), nullptr) << method;
    }
}

// --- knorm ------------------------------------------------------------------

TEST(CompressKnorm, SmallKeysKept) {
    const ModelShape shape{1, 2, 1, 4};
    const int64_t n = 10;
    // Key t has norm norms[t], along dimension t mod 4 with alternating signs.
    SyntheticLayer l = test::make_layer(shape, n, 23);
    const float norms[] = {3, 1, 4, 1.5f, 5, 9, 2, 6, 5.5f, 0.5f};
    for (int64_t t = 0; t < n; ++t) {
        float* k = l.k_rope.data() + t * 4;
        for (int c = 0; c < 4; ++c) k[c] = 0.0f;
        k[t % 4] = (t % 2 == 0 ? 1.0f : -1.0f) * norms[t];
    }
    KvCache cache = cache_of(shape, {l}, n);
    CompressionOptions o = options_for("knorm");
    o.sink = 0;
    o.recent = 0;
    o.ratio = 0.5;
    o.budget = BudgetMode::per_head;
    KnormScorer scorer(o, shape);
    test::feed_model(scorer, shape, {l}, n, 3);

    const ScoreSet s = scorer.finalize(cache);
    for (int64_t t = 0; t < n; ++t) EXPECT_FLOAT_EQ(score_at(s, 0, 0, t), -norms[t]) << "token " << t;

    compress(cache, &scorer, o);
    EXPECT_EQ(kept_positions(cache, 0, 0), (std::vector<int32_t>{0, 1, 3, 6, 9}));
}

// --- streaming_llm ----------------------------------------------------------

TEST(CompressStreamingLlm, KeepsSinkAndLatest) {
    const int64_t n = 100;
    for (BudgetMode budget : {BudgetMode::per_head, BudgetMode::per_layer}) {
        CompressionOptions o = options_for("streaming_llm");
        o.sink = 4;
        o.recent = 0;
        o.ratio = 0.7;
        o.budget = budget;
        Prefilled p = prefill(o, kShape, n);
        const ScoreSet s = p.scorer->finalize(p.cache);
        EXPECT_EQ(score_at(s, 2, 1, 57), 57.0f);
        compress(p.cache, p.scorer.get(), o);

        std::vector<int32_t> expected = {0, 1, 2, 3};
        for (int32_t t = n - 26; t < n; ++t) expected.push_back(t);
        for (int il = 0; il < kShape.n_layer; ++il) {
            for (int h = 0; h < kShape.n_head_kv; ++h) {
                EXPECT_EQ(kept_positions(p.cache, il, h), expected) << "layer " << il << " head " << h;
            }
        }
    }
}

// --- random -----------------------------------------------------------------

TEST(CompressRandom, SameSeedSameScores) {
    const int64_t n = 300;
    CompressionOptions o = options_for("random");
    o.seed = 11;
    Prefilled a = prefill(o, kShape, n, 50, 1);
    Prefilled b = prefill(o, kShape, n, 13, 2);  // other data, other chunks
    const ScoreSet sa = a.scorer->finalize(a.cache);
    const ScoreSet sb = b.scorer->finalize(b.cache);
    EXPECT_EQ(sa.scores, sb.scores);

    o.seed = 12;
    Prefilled c = prefill(o, kShape, n);
    const ScoreSet sc = c.scorer->finalize(c.cache);
    size_t same = 0;
    for (size_t i = 0; i < sa.scores[0].size(); ++i) same += sa.scores[0][i] == sc.scores[0][i];
    EXPECT_LT(same, 3u);

    // Heads and layers differ from each other too.
    EXPECT_NE(score_at(sa, 0, 0, 5), score_at(sa, 0, 1, 5));
    EXPECT_NE(score_at(sa, 0, 0, 5), score_at(sa, 1, 0, 5));
}

TEST(CompressRandom, PinnedValuesAndUniformity) {
    // Integer-only hashing: these values hold on every platform and compiler
    // (a Python replica of the SplitMix64 chain gives the same integers).
    EXPECT_EQ(random_score(0, 0, 0, 0), 0x1.0p-24f * 2175092.0f);
    EXPECT_EQ(random_score(0, 0, 0, 1), 0x1.0p-24f * 2772753.0f);
    EXPECT_EQ(random_score(7, 2, 1, 1000), 0x1.0p-24f * 15218480.0f);

    double sum = 0.0;
    int below_quarter = 0;
    const int count = 20000;
    for (int t = 0; t < count; ++t) {
        const float x = random_score(5, 1, 0, t);
        ASSERT_GE(x, 0.0f);
        ASSERT_LT(x, 1.0f);
        sum += x;
        below_quarter += x < 0.25f;
    }
    EXPECT_NEAR(sum / count, 0.5, 0.01);
    EXPECT_NEAR(static_cast<double>(below_quarter) / count, 0.25, 0.01);
}

// --- keydiff ----------------------------------------------------------------

TEST(CompressKeyDiff, OutlierDirectionsKept) {
    const ModelShape shape{1, 2, 1, 4};
    const int64_t n = 12;
    SyntheticLayer l = test::make_layer(shape, n, 24);
    // Most keys point along e0 with various lengths; tokens 3 and 8 point
    // along e1 and e2, away from the anchor.
    for (int64_t t = 0; t < n; ++t) {
        float* k = l.k_rope.data() + t * 4;
        const float length = 1.0f + 0.5f * static_cast<float>(t);
        k[0] = length;
        k[1] = 0.1f * length;
        k[2] = 0.0f;
        k[3] = 0.0f;
    }
    l.k_rope[3 * 4 + 0] = 0.0f;
    l.k_rope[3 * 4 + 1] = 2.0f;
    l.k_rope[8 * 4 + 0] = 0.0f;
    l.k_rope[8 * 4 + 1] = 0.0f;
    l.k_rope[8 * 4 + 2] = -3.0f;
    KvCache cache = cache_of(shape, {l}, n);
    KeyDiffScorer scorer(options_for("keydiff"), shape);
    test::feed_model(scorer, shape, {l}, n, 5);
    const ScoreSet s = scorer.finalize(cache);

    // The anchor: mean of the unit keys.
    double anchor[4] = {0, 0, 0, 0};
    for (int64_t t = 0; t < n; ++t) {
        const float* k = l.k_rope.data() + t * 4;
        const double norm = std::sqrt(double(k[0]) * k[0] + double(k[1]) * k[1] + double(k[2]) * k[2]);
        for (int c = 0; c < 4; ++c) anchor[c] += k[c] / norm / n;
    }
    const double anchor_norm = std::sqrt(anchor[0] * anchor[0] + anchor[1] * anchor[1] + anchor[2] * anchor[2]);
    for (int64_t t = 0; t < n; ++t) {
        const float* k = l.k_rope.data() + t * 4;
        const double norm = std::sqrt(double(k[0]) * k[0] + double(k[1]) * k[1] + double(k[2]) * k[2]);
        const double cosine = (k[0] * anchor[0] + k[1] * anchor[1] + k[2] * anchor[2]) / (norm * anchor_norm);
        EXPECT_NEAR(score_at(s, 0, 0, t), -cosine, 1e-6) << "token " << t;
    }

    // The two off-direction keys rank first; the e0 keys tie at the bottom.
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return score_at(s, 0, 0, a) > score_at(s, 0, 0, b); });
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.begin() + 2), (std::set<int64_t>{3, 8}));
    EXPECT_NEAR(score_at(s, 0, 0, 0), score_at(s, 0, 0, 11), 1e-6);
}

TEST(CompressKeyDiff, ZeroKeyScoresZero) {
    const ModelShape shape{1, 1, 1, 4};
    SyntheticLayer l = test::make_layer(shape, 6, 25);
    std::fill(l.k_rope.begin() + 8, l.k_rope.begin() + 12, 0.0f);  // token 2
    KvCache cache = cache_of(shape, {l}, 6);
    KeyDiffScorer scorer(options_for("keydiff"), shape);
    test::feed_model(scorer, shape, {l}, 6, 6);
    const ScoreSet s = scorer.finalize(cache);
    EXPECT_EQ(score_at(s, 0, 0, 2), 0.0f);
    for (float x : s.scores[0]) EXPECT_TRUE(std::isfinite(x));
}

// --- window attention, snapkv, tova ------------------------------------------

TEST(CompressWindowAttention, MatchesPlainLoops) {
    const ModelShape shape{1, 3, 1, 16};
    const int64_t n = 90;
    const SyntheticLayer l = test::make_layer(shape, n, 26);
    for (int64_t n_query : {1, 5, 17}) {
        // The last n_query queries of heads 0 and 2 stacked: rows [2 · n_query × d].
        std::vector<float> queries;
        for (int hq : {0, 2}) {
            for (int64_t i = 0; i < n_query; ++i) {
                const float* q = query_of(l, shape, hq, n - n_query + i);
                queries.insert(queries.end(), q, q + 16);
            }
        }
        std::vector<float> keys(l.k_rope.begin(), l.k_rope.end());
        std::vector<float> sums(static_cast<size_t>(n), 0.5f);  // added to, not overwritten
        WindowAttentionWorkspace workspace;
        add_window_attention(queries.data(), 2 * n_query, n_query, keys.data(), n, 16, workspace, sums);

        std::vector<double> expected(static_cast<size_t>(n), 0.5);
        for (int hq : {0, 2}) {
            for (int64_t i = 0; i < n_query; ++i) {
                const int64_t pos = n - n_query + i;
                const std::vector<double> p = attention_probs(query_of(l, shape, hq, pos), l, shape, 0, n, pos + 1);
                for (int64_t j = 0; j < n; ++j) expected[static_cast<size_t>(j)] += p[static_cast<size_t>(j)];
            }
        }
        for (int64_t j = 0; j < n; ++j) {
            EXPECT_NEAR(sums[static_cast<size_t>(j)], expected[static_cast<size_t>(j)], 2e-6)
                << "n_query " << n_query << " key " << j;
        }
        // Each row's probabilities sum to 1.
        const double total = std::accumulate(sums.begin(), sums.end(), 0.0) - 0.5 * n;
        EXPECT_NEAR(total, 2.0 * n_query, 1e-4);
    }
}

TEST(CompressWindowAttention, ExtremeLogitsStayFinite) {
    // Logits spanning thousands: exponentials far below −87 clamp, the
    // maximum stays exp(0).
    const int64_t n = 40;
    std::vector<float> keys(static_cast<size_t>(n) * 4, 0.0f);
    for (int64_t j = 0; j < n; ++j) keys[static_cast<size_t>(j) * 4] = static_cast<float>(j) * 50.0f;
    const std::vector<float> query = {2.0f, 0.0f, 0.0f, 0.0f};
    std::vector<float> sums(static_cast<size_t>(n), 0.0f);
    WindowAttentionWorkspace workspace;
    add_window_attention(query.data(), 1, 1, keys.data(), n, 4, workspace, sums);
    EXPECT_NEAR(sums[static_cast<size_t>(n - 1)], 1.0f, 1e-6);
    for (int64_t j = 0; j + 1 < n; ++j) EXPECT_LT(sums[static_cast<size_t>(j)], 1e-20f);

    std::vector<float> bad = keys;
    bad[5] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(add_window_attention(query.data(), 1, 1, bad.data(), n, 4, workspace, sums), std::runtime_error);
}

// SnapKV's scores recomputed from the definition: [n_head_kv × n].
std::vector<double> expected_snapkv(const SyntheticLayer& l, const ModelShape& shape, int64_t n, int window,
                                    int kernel) {
    const int64_t w = std::min<int64_t>(window, n - 1);
    const int64_t m = n - w;
    const int n_group = shape.n_head / shape.n_head_kv;
    std::vector<double> out(static_cast<size_t>(shape.n_head_kv) * n, 0.0);
    double layer_max = -1e300;
    for (int h = 0; h < shape.n_head_kv; ++h) {
        std::vector<double> mean(static_cast<size_t>(m), 0.0);
        for (int g = 0; g < n_group; ++g) {
            for (int64_t i = 0; i < w; ++i) {
                const int64_t pos = m + i;
                const std::vector<double> p =
                    attention_probs(query_of(l, shape, h * n_group + g, pos), l, shape, h, n, pos + 1);
                for (int64_t j = 0; j < m; ++j) {
                    mean[static_cast<size_t>(j)] += p[static_cast<size_t>(j)] / static_cast<double>(w * n_group);
                }
            }
        }
        for (int64_t j = 0; j < m; ++j) {
            double s = 0.0;
            for (int64_t i = j - kernel / 2; i <= j + kernel / 2; ++i) {
                if (i >= 0 && i < m) s += mean[static_cast<size_t>(i)];
            }
            out[static_cast<size_t>(h * n + j)] = s / kernel;
            layer_max = std::max(layer_max, s / kernel);
        }
    }
    for (int h = 0; h < shape.n_head_kv; ++h) {
        for (int64_t j = m; j < n; ++j) out[static_cast<size_t>(h * n + j)] = layer_max + 1.0;
    }
    return out;
}

TEST(CompressSnapKv, MatchesDefinition) {
    const int64_t n = 150;
    CompressionOptions o = options_for("snapkv");
    o.window = 24;
    o.pool_kernel = 5;
    Prefilled p = prefill(o, kShape, n, 40);
    const ScoreSet s = p.scorer->finalize(p.cache);
    for (int il = 0; il < kShape.n_layer; ++il) {
        const std::vector<double> expected =
            expected_snapkv(p.layers[static_cast<size_t>(il)], kShape, n, o.window, o.pool_kernel);
        for (size_t i = 0; i < expected.size(); ++i) {
            ASSERT_NEAR(s.scores[static_cast<size_t>(il)][i], expected[i], 1e-6 + 1e-5 * std::abs(expected[i]))
                << "layer " << il << " index " << i;
        }
    }
}

TEST(CompressSnapKv, WindowScoresHighest) {
    const int64_t n = 120;
    CompressionOptions o = options_for("snapkv");
    o.window = 20;
    Prefilled p = prefill(o, kShape, n);
    const ScoreSet s = p.scorer->finalize(p.cache);
    for (int il = 0; il < kShape.n_layer; ++il) {
        const std::vector<float>& layer = s.scores[static_cast<size_t>(il)];
        float outside_max = -1e30f;
        for (int h = 0; h < kShape.n_head_kv; ++h) {
            for (int64_t j = 0; j < n - 20; ++j) outside_max = std::max(outside_max, score_at(s, il, h, j));
        }
        for (int h = 0; h < kShape.n_head_kv; ++h) {
            for (int64_t j = n - 20; j < n; ++j) EXPECT_EQ(score_at(s, il, h, j), outside_max + 1.0f);
        }
        EXPECT_EQ(*std::max_element(layer.begin(), layer.end()), outside_max + 1.0f);
    }

    // With sink and recent 0 and a budget above the window, compress keeps
    // every window token.
    o.sink = 0;
    o.recent = 0;
    o.ratio = 0.5;
    compress(p.cache, p.scorer.get(), o);
    for (int h = 0; h < kShape.n_head_kv; ++h) {
        const std::vector<int32_t> kept = kept_positions(p.cache, 1, h);
        const std::set<int32_t> set(kept.begin(), kept.end());
        for (int32_t t = n - 20; t < n; ++t) EXPECT_TRUE(set.count(t)) << "head " << h << " window token " << t;
    }
}

TEST(CompressSnapKv, ShortContextShrinksWindow) {
    // 10 tokens with a window of 16: the last 9 form the window, token 0 is scored.
    const int64_t n = 10;
    CompressionOptions o = options_for("snapkv");
    o.window = 16;
    Prefilled p = prefill(o, kShape, n, 3);
    const ScoreSet s = p.scorer->finalize(p.cache);
    const std::vector<double> expected = expected_snapkv(p.layers[0], kShape, n, 16, 5);
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(s.scores[0][i], expected[i], 1e-5) << "index " << i;
    EXPECT_LT(score_at(s, 0, 0, 0), score_at(s, 0, 0, 1));
}

TEST(CompressTova, SharedScoresFromLastQuery) {
    const int64_t n = 80;
    Prefilled p = prefill(options_for("tova"), kShape, n, 30);
    const ScoreSet s = p.scorer->finalize(p.cache);
    const int n_group = kShape.n_head / kShape.n_head_kv;

    for (int il = 0; il < kShape.n_layer; ++il) {
        const SyntheticLayer& l = p.layers[static_cast<size_t>(il)];
        std::vector<double> expected(static_cast<size_t>(n), 0.0);
        for (int hq = 0; hq < kShape.n_head; ++hq) {
            const std::vector<double> probs =
                attention_probs(query_of(l, kShape, hq, n - 1), l, kShape, hq / n_group, n, n);
            for (int64_t j = 0; j < n; ++j) {
                expected[static_cast<size_t>(j)] += probs[static_cast<size_t>(j)] / kShape.n_head;
            }
        }
        const double outside_max = *std::max_element(expected.begin(), expected.end() - 1);
        for (int h = 0; h < kShape.n_head_kv; ++h) {
            for (int64_t j = 0; j + 1 < n; ++j) {
                EXPECT_NEAR(score_at(s, il, h, j), expected[static_cast<size_t>(j)], 1e-6)
                    << "layer " << il << " head " << h << " token " << j;
            }
            EXPECT_NEAR(score_at(s, il, h, n - 1), outside_max + 1.0, 1e-6);
        }
    }
}

// --- pyramidkv --------------------------------------------------------------

TEST(CompressPyramidKv, BudgetsDecreaseAndAverage) {
    struct Case {
        int64_t n_tokens;
        int64_t n_keep;
        int n_layer;
    };
    // Uncapped (4096, 8000) and capped (268, 1000, 500) pyramids.
    for (const Case c : {Case{268, 134, 30}, Case{4096, 1400, 30}, Case{4096, 2048, 32}, Case{1000, 700, 24},
                         Case{8000, 2000, 7}, Case{500, 250, 2}}) {
        const std::vector<int64_t> keep = pyramid_layer_keep(c.n_tokens, c.n_keep, c.n_layer, 64, 20.0);
        ASSERT_EQ(static_cast<int>(keep.size()), c.n_layer);
        EXPECT_EQ(std::accumulate(keep.begin(), keep.end(), int64_t{0}), c.n_keep * c.n_layer)
            << "n_tokens " << c.n_tokens << " n_keep " << c.n_keep;
        for (size_t il = 1; il < keep.size(); ++il) EXPECT_LE(keep[il], keep[il - 1]) << "layer " << il;
        EXPECT_GT(keep.front(), keep.back());
        EXPECT_LE(keep.front(), c.n_tokens);
        EXPECT_GE(keep.back(), 64);
    }
}

TEST(CompressPyramidKv, KvpressBudgetsByHand) {
    // 268 tokens, keep 134, window 64, beta 20, 30 layers: low 6.7 and high
    // 261.3 exceed n − w = 204, so high = 204 and low = 64; step 140 / 29.
    const std::vector<int64_t> keep = pyramid_layer_keep(268, 134, 30, 64, 20.0);
    EXPECT_EQ(keep[0], 204);
    EXPECT_EQ(keep[10], 156);  // round(204 − 10 · 4.8276)
    EXPECT_EQ(keep[29], 64);

    // 4096 tokens, keep 1024: low 51.2 is below the window, so every layer keeps 1024.
    EXPECT_EQ(pyramid_layer_keep(4096, 1024, 30, 64, 20.0), std::vector<int64_t>(30, 1024));
    // 4096 tokens, keep 2048: low 102.4 and high 3993.6, below n − w = 4032.
    const std::vector<int64_t> half = pyramid_layer_keep(4096, 2048, 30, 64, 20.0);
    EXPECT_EQ(half[0], 3994);
    EXPECT_EQ(half[29], 102);
}

TEST(CompressPyramidKv, FallsBackToUniform) {
    EXPECT_EQ(pyramid_layer_keep(100, 50, 30, 64, 20.0), std::vector<int64_t>(30, 50));  // short context
    EXPECT_EQ(pyramid_layer_keep(5000, 3000, 1, 64, 20.0), std::vector<int64_t>(1, 3000));  // one layer
    EXPECT_EQ(pyramid_layer_keep(5000, 100, 30, 64, 20.0), std::vector<int64_t>(30, 100));  // low < window
}

TEST(CompressPyramidKv, LayersKeepPyramidBudgets) {
    const ModelShape shape{6, 6, 2, 16};
    const int64_t n = 400;
    for (BudgetMode budget : {BudgetMode::per_head, BudgetMode::per_layer}) {
        CompressionOptions o = options_for("pyramidkv");
        o.window = 16;
        o.ratio = 0.5;
        o.budget = budget;
        Prefilled p = prefill(o, shape, n);
        const ScoreSet s = p.scorer->finalize(p.cache);
        ASSERT_TRUE(static_cast<bool>(s.layer_keep));
        const std::vector<int64_t> keep = s.layer_keep(n, 200);
        EXPECT_EQ(keep, pyramid_layer_keep(n, 200, 6, 16, 20.0));

        compress(p.cache, p.scorer.get(), o);
        int64_t total = 0;
        for (int il = 0; il < shape.n_layer; ++il) {
            int64_t layer_rows = 0;
            for (int h = 0; h < shape.n_head_kv; ++h) layer_rows += p.cache.length(il, h);
            EXPECT_EQ(layer_rows, shape.n_head_kv * keep[static_cast<size_t>(il)]) << "layer " << il;
            total += layer_rows;
        }
        EXPECT_EQ(total, shape.n_layer * shape.n_head_kv * 200);
        EXPECT_GT(p.cache.length(0, 0) + p.cache.length(0, 1), p.cache.length(5, 0) + p.cache.length(5, 1));
    }
}

// --- exact_leverage ---------------------------------------------------------

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

// ℓ_t = x_tᵀ (XᵀX + εI)⁻¹ x_t over the centered pre-RoPE keys of tokens
// [t0, t1) of head h.
std::vector<double> direct_leverage(const SyntheticLayer& l, const ModelShape& shape, int h, int64_t t0, int64_t t1,
                                    double eps) {
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
    for (size_t a = 0; a < d; ++a) gram[a * d + a] += eps;
    const std::vector<double> gram_inv = inverse(gram, shape.head_dim);

    std::vector<double> lev(m, 0.0);
    for (size_t i = 0; i < m; ++i) {
        for (size_t a = 0; a < d; ++a) {
            for (size_t b = 0; b < d; ++b) lev[i] += x[i * d + a] * gram_inv[a * d + b] * x[i * d + b];
        }
    }
    return lev;
}

TEST(CompressExactLeverage, EqualsDirectComputation) {
    const ModelShape shape{2, 2, 2, 16};
    const int64_t n = 300;
    CompressionOptions o = options_for("exact_leverage");
    Prefilled p = prefill(o, shape, n, 37);
    ExactLeverageScorer& scorer = dynamic_cast<ExactLeverageScorer&>(*p.scorer);
    const ScoreSet z = scorer.finalize(p.cache);

    for (int il = 0; il < shape.n_layer; ++il) {
        for (int h = 0; h < shape.n_head_kv; ++h) {
            const std::vector<double> expected =
                direct_leverage(p.layers[static_cast<size_t>(il)], shape, h, o.sink, n - o.recent, 1e-2);
            for (int64_t t = 0; t < n; ++t) {
                const float got = score_at(scorer.raw_scores(), il, h, t);
                if (t < o.sink || t >= n - o.recent) {
                    EXPECT_EQ(got, 0.0f);
                    EXPECT_EQ(score_at(z, il, h, t), 0.0f);
                    continue;
                }
                const double want = expected[static_cast<size_t>(t - o.sink)];
                EXPECT_NEAR(got, want, 1e-5 * want + 1e-7) << "layer " << il << " head " << h << " token " << t;
            }
        }
    }
}

TEST(CompressExactLeverage, WindowsUseTheirOwnStatistics) {
    const ModelShape shape{1, 2, 1, 8};
    const int64_t n = 262;  // scored tokens 8..257: windows of 100, 100, 50
    CompressionOptions o = options_for("exact_leverage");
    o.leverage_window = 100;
    Prefilled p = prefill(o, shape, n, 41);
    ExactLeverageScorer& scorer = dynamic_cast<ExactLeverageScorer&>(*p.scorer);
    scorer.finalize(p.cache);

    for (int64_t w0 : {8, 108, 208}) {
        const int64_t w1 = std::min<int64_t>(w0 + 100, n - 4);
        const std::vector<double> expected = direct_leverage(p.layers[0], shape, 0, w0, w1, 1e-2);
        for (size_t i = 0; i < expected.size(); ++i) {
            EXPECT_NEAR(score_at(scorer.raw_scores(), 0, 0, w0 + static_cast<int64_t>(i)), expected[i],
                        1e-5 * expected[i] + 1e-7)
                << "window at " << w0 << " token " << i;
        }
    }
}

TEST(CompressExactLeverage, LargeSketchApproximationAgrees) {
    // A Gaussian sketch with 4 · head_dim columns spans the keys' row space,
    // so the approximate scores differ from the exact ones only by how the
    // 1e-2 jitter acts in the sketched space.
    const ModelShape shape{1, 2, 2, 16};
    const int64_t n = 500;
    const std::vector<SyntheticLayer> layers = {test::make_layer(shape, n, 27, 16)};
    const KvCache cache = cache_of(shape, layers, n);
    CompressionOptions o = options_for("exact_leverage");
    ExactLeverageScorer exact(o, shape);
    test::feed_model(exact, shape, layers, n, 64);
    const ScoreSet exact_z = exact.finalize(cache);

    o.method = "leverage";
    o.sketch_dim = 64;
    LeverageScorer approx(o, shape);
    test::feed_model(approx, shape, layers, n, 64);
    const ScoreSet approx_z = approx.finalize();

    double worst_raw = 0.0;
    double worst_z = 0.0;
    for (int h = 0; h < shape.n_head_kv; ++h) {
        for (int64_t t = o.sink; t < n - o.recent; ++t) {
            const double e = score_at(exact.raw_scores(), 0, h, t);
            const double a = score_at(approx.raw_scores(), 0, h, t);
            worst_raw = std::max(worst_raw, std::abs(a - e) / e);
            const double z_difference = std::abs(score_at(approx_z, 0, h, t) - score_at(exact_z, 0, h, t));
            worst_z = std::max(worst_z, z_difference);
        }
    }
    std::printf("sketch 64 vs exact leverage (d = 16): max relative difference %.3g, max z difference %.3g\n",
                worst_raw, worst_z);
    EXPECT_LT(worst_raw, 1e-3);
    EXPECT_LT(worst_z, 1e-3);

    // The keys have full rank with eigenvalues far above ε, so the exact
    // scores of a head sum to head_dim (the trace of a projection).
    for (int h = 0; h < shape.n_head_kv; ++h) {
        double total = 0.0;
        for (int64_t t = 0; t < n; ++t) total += score_at(exact.raw_scores(), 0, h, t);
        EXPECT_NEAR(total, 16.0, 1e-3) << "head " << h;
    }
}

}  // namespace
}  // namespace compactor
