// compactor-test-libs: compactor_model
// The single-token attention path (key ranges merged by rescaling) against a
// double-precision softmax, on ragged heads long enough to split.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kv/kv_cache.h"
#include "model/attention.h"
#include "model/thread_pool.h"

namespace compactor::test {
namespace {

constexpr int kHeadKv = 3;
constexpr int kGroup = 3;
constexpr int kHeadDim = 64;

std::vector<float> random_values(size_t n, uint32_t seed, float spread) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, spread);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// A one-layer cache of n_rows rows, then each head cut to its own length
// (the last row stays, as the new token's row does).
KvCache ragged_cache(int64_t n_rows, const std::vector<int64_t>& lengths) {
    KvCache cache(1, kHeadKv, kHeadDim);
    const size_t row = static_cast<size_t>(kHeadKv * kHeadDim);
    // Large key spread makes the scores peaky, so a wrong merge shows.
    const std::vector<float> k = random_values(static_cast<size_t>(n_rows) * row, 1, 1.5f);
    const std::vector<float> v = random_values(static_cast<size_t>(n_rows) * row, 2, 1.0f);
    cache.append(0, k.data(), v.data(), n_rows, 0);
    cache.advance(n_rows);
    for (int h = 0; h < kHeadKv; ++h) {
        std::vector<int64_t> keep;
        const int64_t drop = n_rows - lengths[static_cast<size_t>(h)];
        for (int64_t r = drop; r < n_rows; ++r) keep.push_back(r);
        cache.compact(0, h, keep);
    }
    return cache;
}

// softmax(q · Kᵀ / sqrt(d)) · V per query head, in double.
std::vector<double> reference(const std::vector<float>& q, const KvCache& cache) {
    std::vector<double> out(static_cast<size_t>(kHeadKv * kGroup * kHeadDim), 0.0);
    const double scale = 1.0 / std::sqrt(static_cast<double>(kHeadDim));
    for (int hq = 0; hq < kHeadKv * kGroup; ++hq) {
        const int h = hq / kGroup;
        const auto keys = cache.keys(0, h);
        const auto values = cache.values(0, h);
        const int64_t n = cache.length(0, h);
        std::vector<double> scores(static_cast<size_t>(n));
        for (int64_t r = 0; r < n; ++r) {
            double s = 0.0;
            for (int d = 0; d < kHeadDim; ++d) s += static_cast<double>(q[hq * kHeadDim + d]) * keys[r * kHeadDim + d];
            scores[static_cast<size_t>(r)] = s * scale;
        }
        const double max_score = *std::max_element(scores.begin(), scores.end());
        double total = 0.0;
        for (double& s : scores) total += (s = std::exp(s - max_score));
        for (int64_t r = 0; r < n; ++r) {
            for (int d = 0; d < kHeadDim; ++d) {
                out[static_cast<size_t>(hq * kHeadDim + d)] += scores[static_cast<size_t>(r)] / total * values[r * kHeadDim + d];
            }
        }
    }
    return out;
}

TEST(AttentionDecode, SplitRangesMatchSoftmax) {
    // 2,000 rows split into ranges; 300 into one or two; 1 row alone.
    const KvCache cache = ragged_cache(2000, {2000, 300, 1});
    const std::vector<float> q = random_values(static_cast<size_t>(kHeadKv * kGroup * kHeadDim), 3, 1.0f);
    const std::vector<double> expected = reference(q, cache);

    for (int n_threads : {1, 2, 3, 5}) {
        ThreadPool pool(n_threads);
        std::vector<float> out(expected.size(), -1.0f);
        attend_chunk(q.data(), 1, kHeadKv * kGroup, cache, 0, out.data(), pool);
        for (size_t i = 0; i < out.size(); ++i) {
            ASSERT_NEAR(out[i], expected[i], 1e-5) << n_threads << " threads, query head " << i / kHeadDim
                                                   << ", dim " << i % kHeadDim;
        }
    }
}

TEST(AttentionDecode, SameResultAnyThreadCount) {
    const KvCache cache = ragged_cache(1500, {1500, 1024, 700});
    const std::vector<float> q = random_values(static_cast<size_t>(kHeadKv * kGroup * kHeadDim), 4, 1.0f);

    ThreadPool one(1);
    std::vector<float> single(q.size());
    attend_chunk(q.data(), 1, kHeadKv * kGroup, cache, 0, single.data(), one);

    // The ranges depend on the thread count, so results agree to rounding.
    ThreadPool four(4);
    std::vector<float> split(q.size());
    attend_chunk(q.data(), 1, kHeadKv * kGroup, cache, 0, split.data(), four);
    for (size_t i = 0; i < q.size(); ++i) EXPECT_NEAR(split[i], single[i], 1e-6) << "element " << i;
}

}  // namespace
}  // namespace compactor::test
