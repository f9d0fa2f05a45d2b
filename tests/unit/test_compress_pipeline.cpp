// compactor-test-libs: compactor_compress
//
// compress(): scoring, selection and compaction of a KvCache filled from
// synthetic prefill chunks.
#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compactor_scorer.h"
#include "compress/compressor.h"
#include "kv/kv_cache.h"
#include "test_compress_synthetic.h"

namespace compactor {
namespace {

using test::SyntheticLayer;

const ModelShape kShape{3, 4, 2, 16};

// A prefilled cache and the scorer that watched the prefill.
struct Prefilled {
    KvCache cache;
    std::unique_ptr<Scorer> scorer;
};

Prefilled prefill(const CompressionOptions& o, int64_t n, uint32_t seed = 31) {
    Prefilled p{KvCache(kShape.n_layer, kShape.n_head_kv, kShape.head_dim), make_scorer(o, kShape)};
    const std::vector<SyntheticLayer> layers = test::make_model(kShape, n, seed);
    for (int il = 0; il < kShape.n_layer; ++il) {
        const SyntheticLayer& l = layers[static_cast<size_t>(il)];
        p.cache.append(il, l.k_rope.data(), l.v.data(), n, 0);
    }
    p.cache.advance(n);
    if (p.scorer) test::feed_model(*p.scorer, kShape, layers, n, 48);
    return p;
}

CompressionOptions small_options(BudgetMode budget, double ratio) {
    CompressionOptions o;
    o.ratio = ratio;
    o.budget = budget;
    o.sketch_dim = 8;
    o.attn_chunk = 32;
    o.seed = 7;
    return o;
}

std::vector<int32_t> positions(const KvCache& cache, int il, int h) {
    const std::span<const int32_t> p = cache.positions(il, h);
    return {p.begin(), p.end()};
}

void expect_protected_kept(const KvCache& cache, int64_t n, const CompressionOptions& o) {
    for (int il = 0; il < cache.n_layer(); ++il) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            const std::vector<int32_t> p = positions(cache, il, h);
            const std::set<int32_t> kept(p.begin(), p.end());
            for (int32_t t = 0; t < o.sink; ++t) EXPECT_TRUE(kept.count(t)) << "sink token " << t;
            for (int64_t t = n - o.recent; t < n; ++t) {
                EXPECT_TRUE(kept.count(static_cast<int32_t>(t))) << "recent token " << t;
            }
            EXPECT_TRUE(std::is_sorted(p.begin(), p.end()));
        }
    }
}

TEST(CompressPipeline, RatioZeroKeepsAll) {
    const int64_t n = 150;
    Prefilled p = prefill(small_options(BudgetMode::per_layer, 0.0), n);
    const std::vector<float> keys_before(p.cache.keys(1, 1).begin(), p.cache.keys(1, 1).end());

    const CompressionReport r = compress(p.cache, p.scorer.get(), small_options(BudgetMode::per_layer, 0.0));
    EXPECT_FALSE(r.skipped);
    EXPECT_EQ(r.rows_before, r.rows_after);
    EXPECT_EQ(r.bytes_before, r.bytes_after);
    EXPECT_DOUBLE_EQ(r.kept_fraction, 1.0);
    EXPECT_EQ(p.cache.total_rows(), kShape.n_layer * kShape.n_head_kv * n);
    EXPECT_TRUE(std::equal(keys_before.begin(), keys_before.end(), p.cache.keys(1, 1).begin()));
}

TEST(CompressPipeline, ShortContextSkipped) {
    const CompressionOptions o = small_options(BudgetMode::per_head, 0.5);
    Prefilled p = prefill(o, 12);  // sink 8 + recent 4
    const CompressionReport r = compress(p.cache, p.scorer.get(), o);
    EXPECT_TRUE(r.skipped);
    EXPECT_EQ(r.n_tokens, 12);
    EXPECT_EQ(p.cache.total_rows(), kShape.n_layer * kShape.n_head_kv * 12);
    EXPECT_DOUBLE_EQ(r.kept_fraction, 1.0);
}

TEST(CompressPipeline, NullScorerOnlyReports) {
    CompressionOptions o = small_options(BudgetMode::per_head, 0.5);
    o.method = "none";
    Prefilled p = prefill(o, 100);
    ASSERT_EQ(p.scorer, nullptr);
    const CompressionReport r = compress(p.cache, nullptr, o);
    EXPECT_EQ(r.rows_after, r.rows_before);
    EXPECT_EQ(r.bytes_before, p.cache.size_bytes());
    EXPECT_EQ(p.cache.total_rows(), kShape.n_layer * kShape.n_head_kv * 100);
}

TEST(CompressPipeline, PerHeadCountsEqual) {
    const int64_t n = 203;
    const CompressionOptions o = small_options(BudgetMode::per_head, 0.6);
    Prefilled p = prefill(o, n);
    const CompressionReport r = compress(p.cache, p.scorer.get(), o);

    const int64_t n_keep = 81;  // round(0.4 · 203) = round(81.2)
    for (int il = 0; il < kShape.n_layer; ++il) {
        for (int h = 0; h < kShape.n_head_kv; ++h) EXPECT_EQ(p.cache.length(il, h), n_keep);
    }
    EXPECT_EQ(r.rows_after, kShape.n_layer * kShape.n_head_kv * n_keep);
    EXPECT_NEAR(r.kept_fraction, 81.0 / 203.0, 1e-12);
    EXPECT_EQ(r.bytes_after, p.cache.size_bytes());
    EXPECT_LT(r.bytes_after, r.bytes_before);
    EXPECT_EQ(p.cache.next_pos(), n);
    expect_protected_kept(p.cache, n, o);
}

TEST(CompressPipeline, PerLayerTotalAndFloor) {
    const int64_t n = 240;
    const CompressionOptions o = small_options(BudgetMode::per_layer, 0.75);
    Prefilled p = prefill(o, n);
    compress(p.cache, p.scorer.get(), o);

    const int64_t n_keep = 60;
    for (int il = 0; il < kShape.n_layer; ++il) {
        int64_t total = 0;
        for (int h = 0; h < kShape.n_head_kv; ++h) {
            total += p.cache.length(il, h);
            EXPECT_GE(p.cache.length(il, h), static_cast<int64_t>(o.head_floor * n_keep)) << "layer " << il;
        }
        EXPECT_EQ(total, kShape.n_head_kv * n_keep) << "layer " << il;
    }
    expect_protected_kept(p.cache, n, o);
}

TEST(CompressPipeline, KeptRowsHoldTheirOriginalData) {
    const int64_t n = 120;
    const CompressionOptions o = small_options(BudgetMode::per_layer, 0.5);
    const std::vector<SyntheticLayer> layers = test::make_model(kShape, n, 31);
    Prefilled p = prefill(o, n);
    compress(p.cache, p.scorer.get(), o);

    for (int il = 0; il < kShape.n_layer; ++il) {
        for (int h = 0; h < kShape.n_head_kv; ++h) {
            const std::vector<int32_t> pos = positions(p.cache, il, h);
            const std::span<const float> v = p.cache.values(il, h);
            for (size_t i = 0; i < pos.size(); ++i) {
                const float* original = layers[static_cast<size_t>(il)].v.data() +
                                        (static_cast<size_t>(pos[i]) * kShape.n_head_kv + h) * kShape.head_dim;
                EXPECT_TRUE(std::equal(original, original + kShape.head_dim, v.begin() + i * kShape.head_dim))
                    << "layer " << il << " head " << h << " position " << pos[i];
            }
        }
    }
}

TEST(CompressPipeline, SameSeedSameKeptSets) {
    const int64_t n = 180;
    const CompressionOptions o = small_options(BudgetMode::per_layer, 0.5);
    Prefilled a = prefill(o, n);
    Prefilled b = prefill(o, n);
    compress(a.cache, a.scorer.get(), o);
    compress(b.cache, b.scorer.get(), o);
    for (int il = 0; il < kShape.n_layer; ++il) {
        for (int h = 0; h < kShape.n_head_kv; ++h) EXPECT_EQ(positions(a.cache, il, h), positions(b.cache, il, h));
    }
}

TEST(CompressPipeline, BlendCombinesParts) {
    const int64_t n = 100;
    CompressionOptions o = small_options(BudgetMode::per_head, 0.5);
    o.blend = 0.7;
    Prefilled p = prefill(o, n);
    auto& scorer = dynamic_cast<CompactorScorer&>(*p.scorer);
    const ScoreSet blended = scorer.finalize(KvCache{});
    for (size_t il = 0; il < blended.scores.size(); ++il) {
        for (size_t i = 0; i < blended.scores[il].size(); ++i) {
            const double expected =
                scorer.attention_scores().scores[il][i] + 0.7 * scorer.leverage_scores().scores[il][i];
            EXPECT_NEAR(blended.scores[il][i], expected, 1e-5);
        }
    }
}

TEST(CompressPipeline, CacheScorerMismatchRejected) {
    const CompressionOptions o = small_options(BudgetMode::per_head, 0.5);
    Prefilled p = prefill(o, 100);
    const std::vector<SyntheticLayer> extra = test::make_model(kShape, 10, 99);
    for (int il = 0; il < kShape.n_layer; ++il) {
        p.cache.append(il, extra[static_cast<size_t>(il)].k_rope.data(), extra[static_cast<size_t>(il)].v.data(), 10,
                       100);
    }
    p.cache.advance(10);
    EXPECT_THROW(compress(p.cache, p.scorer.get(), o), std::invalid_argument);
}

TEST(CompressPipeline, BadRatioRejected) {
    CompressionOptions o = small_options(BudgetMode::per_head, 0.5);
    Prefilled p = prefill(o, 50);
    o.ratio = 1.0;
    EXPECT_THROW(compress(p.cache, p.scorer.get(), o), std::invalid_argument);
    EXPECT_EQ(p.cache.total_rows(), kShape.n_layer * kShape.n_head_kv * 50);
}

void expect_same_cache(const KvCache& a, const KvCache& b) {
    ASSERT_EQ(a.n_layer(), b.n_layer());
    ASSERT_EQ(a.n_head_kv(), b.n_head_kv());
    EXPECT_EQ(a.next_pos(), b.next_pos());
    for (int il = 0; il < a.n_layer(); ++il) {
        for (int h = 0; h < a.n_head_kv(); ++h) {
            EXPECT_EQ(positions(a, il, h), positions(b, il, h)) << "layer " << il << " head " << h;
            EXPECT_TRUE(std::ranges::equal(a.keys(il, h), b.keys(il, h))) << "layer " << il << " head " << h;
            EXPECT_TRUE(std::ranges::equal(a.values(il, h), b.values(il, h))) << "layer " << il << " head " << h;
        }
    }
}

// compressed_copy() gathers the rows compress_with_scores() keeps in place,
// and leaves its source whole.
TEST(CompressPipeline, CompressedCopyMatchesInPlace) {
    for (const BudgetMode budget : {BudgetMode::per_head, BudgetMode::per_layer}) {
        for (const double ratio : {0.0, 0.5, 0.9}) {
            SCOPED_TRACE(testing::Message() << "budget " << static_cast<int>(budget) << " ratio " << ratio);
            const int64_t n = 150;
            const CompressionOptions o = small_options(budget, ratio);
            Prefilled p = prefill(o, n);
            const ScoreSet scores = p.scorer->finalize(p.cache);

            KvCache in_place = p.cache;
            const CompressionReport expected = compress_with_scores(in_place, scores, o);
            const CompressedCopy copied = compressed_copy(p.cache, scores, o, 4);

            expect_same_cache(copied.cache, in_place);
            EXPECT_EQ(copied.report.rows_before, expected.rows_before);
            EXPECT_EQ(copied.report.rows_after, expected.rows_after);
            EXPECT_EQ(copied.report.bytes_after, expected.bytes_after);
            EXPECT_EQ(copied.report.kept_fraction, expected.kept_fraction);
            EXPECT_EQ(copied.report.skipped, expected.skipped);
            EXPECT_EQ(p.cache.total_rows(), kShape.n_layer * kShape.n_head_kv * n);
        }
    }
}

TEST(CompressPipeline, CompressedCopyOfShortContextIsWhole) {
    const CompressionOptions o = small_options(BudgetMode::per_layer, 0.5);
    const int64_t n = o.sink + o.recent;
    Prefilled p = prefill(o, n);
    const ScoreSet scores = p.scorer->finalize(p.cache);

    const CompressedCopy copied = compressed_copy(p.cache, scores, o);
    EXPECT_TRUE(copied.report.skipped);
    EXPECT_EQ(copied.report.kept_fraction, 1.0);
    expect_same_cache(copied.cache, p.cache);
}

}  // namespace
}  // namespace compactor
