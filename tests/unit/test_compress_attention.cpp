// compactor-test-libs: compactor_compress compactor_model
//
// The chunked non-causal attention part against a plain recomputation here:
// the scalar reference column sums per chunk (chunks start at token `sink`),
// group average, value norms and the width-3 moving average.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "compress/chunked_attention_scorer.h"
#include "compress/scored_range.h"
#include "model/thread_pool.h"
#include "test_compress_synthetic.h"

namespace compactor {
namespace {

using test::SyntheticLayer;

CompressionOptions attention_options(int attn_chunk) {
    CompressionOptions o;
    o.method = "chunked_attention";
    o.attn_chunk = attn_chunk;
    o.sink = 8;
    o.recent = 4;
    return o;
}

// Expected smoothed attention part [n_head_kv × n_tokens], protected 0.
std::vector<double> expected_attention(const SyntheticLayer& l, const ModelShape& shape, int64_t n,
                                       const CompressionOptions& o) {
    const ScoredRange range = scored_range(n, o.sink, o.recent);
    const int d = shape.head_dim;
    const int n_group = shape.n_head / shape.n_head_kv;
    std::vector<double> out(static_cast<size_t>(shape.n_head_kv) * static_cast<size_t>(n), 0.0);

    for (int h = 0; h < shape.n_head_kv; ++h) {
        std::vector<double> raw;
        for (int64_t c0 = range.begin; c0 < range.end; c0 += o.attn_chunk) {
            const int64_t m = std::min<int64_t>(o.attn_chunk, range.end - c0);
            std::vector<double> sums(static_cast<size_t>(m), 0.0);
            for (int g = 0; g < n_group; ++g) {
                const float* q = l.q_rope.data() + static_cast<size_t>(c0) * shape.n_head * d + (h * n_group + g) * d;
                const float* k = l.k_rope.data() + static_cast<size_t>(c0) * shape.n_head_kv * d + h * d;
                const std::vector<double> col =
                    attention_column_sums_reference(q, shape.n_head * d, k, shape.n_head_kv * d, m, d);
                for (int64_t i = 0; i < m; ++i) sums[static_cast<size_t>(i)] += col[static_cast<size_t>(i)] / n_group;
            }
            for (int64_t i = 0; i < m; ++i) {
                const float* v = l.v.data() + static_cast<size_t>(c0 + i) * shape.n_head_kv * d + h * d;
                double norm2 = 0.0;
                for (int c = 0; c < d; ++c) norm2 += static_cast<double>(v[c]) * v[c];
                raw.push_back(sums[static_cast<size_t>(i)] * (o.value_weighting ? std::sqrt(norm2) : 1.0));
            }
        }
        const int64_t s = static_cast<int64_t>(raw.size());
        for (int64_t i = 0; i < s; ++i) {
            const double prev = i > 0 ? raw[static_cast<size_t>(i - 1)] : 0.0;
            const double next = i + 1 < s ? raw[static_cast<size_t>(i + 1)] : 0.0;
            out[static_cast<size_t>(h * n + range.begin + i)] = (prev + raw[static_cast<size_t>(i)] + next) / 3.0;
        }
    }
    return out;
}

void expect_near_all(const std::vector<float>& got, const std::vector<double>& expected, double rel) {
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], expected[i], rel * std::abs(expected[i]) + 1e-6) << "index " << i;
    }
}

TEST(CompressAttention, MatchesScalarReference) {
    const ModelShape shape{1, 6, 2, 16};
    const int64_t n = 8 + 3 * 64 + 4;  // three full chunks
    const SyntheticLayer l = test::make_layer(shape, n, 21);
    const CompressionOptions o = attention_options(64);
    ChunkedAttentionScorer scorer(o, shape);
    test::feed_model(scorer, shape, {l}, n, 50);
    scorer.finalize();
    expect_near_all(scorer.raw_scores().scores[0], expected_attention(l, shape, n, o), 1e-4);
}

TEST(CompressAttention, ShortLastChunkMasked) {
    // 8 sink, 64 + 20 scored (a short last chunk), 4 recent: the last chunk's
    // softmax runs over its 20 tokens only, as with −∞ on the padding.
    const ModelShape shape{1, 4, 2, 16};
    const int64_t n = 8 + 64 + 20 + 4;
    const SyntheticLayer l = test::make_layer(shape, n, 22);
    const CompressionOptions o = attention_options(64);
    ChunkedAttentionScorer scorer(o, shape);
    test::feed_model(scorer, shape, {l}, n, 31);
    scorer.finalize();
    const std::vector<double> expected = expected_attention(l, shape, n, o);
    expect_near_all(scorer.raw_scores().scores[0], expected, 1e-4);

    // Without values, each query spreads probability 1 over its chunk, so the
    // group-averaged column sums of a chunk add up to its length.
    CompressionOptions plain = o;
    plain.value_weighting = false;
    ChunkedAttentionScorer unweighted(plain, shape);
    test::feed_model(unweighted, shape, {l}, n, 96);
    unweighted.finalize();
    const std::vector<double> plain_expected = expected_attention(l, shape, n, plain);
    expect_near_all(unweighted.raw_scores().scores[0], plain_expected, 1e-4);
}

TEST(CompressAttention, ChunkMassEqualsLength) {
    // Every query spreads probability 1 over its chunk, so the column sums of
    // a chunk of m tokens add up to m.
    const ModelShape shape{1, 2, 1, 8};
    const int64_t n = 8 + 40 + 4;
    const SyntheticLayer l = test::make_layer(shape, n, 23);
    for (int64_t m : {1, 8, 40}) {
        const std::vector<double> col = attention_column_sums_reference(
            l.q_rope.data() + 8 * 16, 16, l.k_rope.data() + 8 * 8, 8, m, 8);
        double total = 0.0;
        for (double x : col) total += x;
        EXPECT_NEAR(total, static_cast<double>(m), 1e-9) << "chunk of " << m;
    }

    // Without value weighting the scorer's parts add up to the 40 scored
    // tokens, less what smoothing pushes past both ends (a third of the
    // first and last raw scores).
    CompressionOptions o = attention_options(16);  // chunks of 16, 16, 8
    o.value_weighting = false;
    ChunkedAttentionScorer scorer(o, shape);
    test::feed_model(scorer, shape, {l}, n, n);
    scorer.finalize();
    double total = 0.0;
    for (float x : scorer.raw_scores().scores[0]) total += x;
    EXPECT_LT(total, 40.0);
    // A raw score is at most its chunk's length: 16 for the first, 8 for the last.
    EXPECT_GT(total, 40.0 - (16.0 + 8.0) / 3.0);
}

TEST(CompressAttention, PartialChunksEqualOneShot) {
    const ModelShape shape{2, 4, 2, 16};
    const int64_t n = 8 + 2 * 32 + 13 + 4;
    const std::vector<SyntheticLayer> layers = test::make_model(shape, n, 24);
    const CompressionOptions o = attention_options(32);

    ChunkedAttentionScorer one_shot(o, shape);
    test::feed_model(one_shot, shape, layers, n, n);
    const ScoreSet expected = one_shot.finalize();

    for (int64_t step : {1, 5, 33, 40}) {
        ChunkedAttentionScorer chunked(o, shape);
        test::feed_model(chunked, shape, layers, n, step);
        const ScoreSet got = chunked.finalize();
        for (size_t il = 0; il < 2; ++il) {
            for (size_t i = 0; i < got.scores[il].size(); ++i) {
                EXPECT_NEAR(got.scores[il][i], expected.scores[il][i], 1e-5) << "step " << step << " index " << i;
            }
        }
    }
}

// A scorer handed the forward pass's thread pool splits each chunk over the
// query heads; the scores must not depend on it.
TEST(CompressAttention, ThreadPoolGivesSameScores) {
    const ModelShape shape{2, 6, 2, 16};
    const int64_t n = 8 + 3 * 32 + 4;
    const std::vector<SyntheticLayer> layers = test::make_model(shape, n, 31);
    const CompressionOptions o = attention_options(32);

    ChunkedAttentionScorer serial(o, shape);
    test::feed_model(serial, shape, layers, n, 40);
    const ScoreSet expected = serial.finalize();

    ThreadPool pool(3);
    ChunkedAttentionScorer parallel(o, shape);
    for (int64_t t0 = 0; t0 < n; t0 += 40) {
        for (int il = 0; il < shape.n_layer; ++il) {
            LayerChunk chunk = test::chunk_of(shape, layers[static_cast<size_t>(il)], il, t0, std::min<int64_t>(40, n - t0));
            chunk.pool = &pool;
            parallel.observe(chunk);
        }
    }
    const ScoreSet got = parallel.finalize();
    for (size_t il = 0; il < 2; ++il) {
        ASSERT_EQ(got.scores[il].size(), expected.scores[il].size());
        for (size_t i = 0; i < got.scores[il].size(); ++i) {
            EXPECT_EQ(got.scores[il][i], expected.scores[il][i]) << "layer " << il << " index " << i;
        }
    }
}

TEST(CompressAttention, FinalizeTwiceGivesSameScores) {
    const ModelShape shape{1, 2, 1, 8};
    const int64_t n = 100;
    const SyntheticLayer l = test::make_layer(shape, n, 25);
    ChunkedAttentionScorer scorer(attention_options(32), shape);
    test::feed_model(scorer, shape, {l}, n, 17);
    const ScoreSet first = scorer.finalize();
    const ScoreSet second = scorer.finalize();
    EXPECT_EQ(first.scores, second.scores);
}

TEST(CompressAttention, ZScoresOverScoredTokens) {
    const ModelShape shape{1, 4, 2, 16};
    const int64_t n = 150;
    const SyntheticLayer l = test::make_layer(shape, n, 26);
    ChunkedAttentionScorer scorer(attention_options(64), shape);
    test::feed_model(scorer, shape, {l}, n, 64);
    const ScoreSet z = scorer.finalize();

    const ScoredRange range = scored_range(n, 8, 4);
    double sum = 0.0, squares = 0.0;
    for (int h = 0; h < 2; ++h) {
        for (int64_t t = 0; t < n; ++t) {
            const double x = z.scores[0][static_cast<size_t>(h * n + t)];
            if (!range.contains(t)) {
                EXPECT_EQ(x, 0.0) << "protected token " << t;
                continue;
            }
            sum += x;
            squares += x * x;
        }
    }
    const double count = 2.0 * static_cast<double>(range.size());
    EXPECT_NEAR(sum / count, 0.0, 1e-5);
    EXPECT_NEAR(squares / (count - 1.0), 1.0, 1e-4);  // sample variance, n − 1
}

}  // namespace
}  // namespace compactor
