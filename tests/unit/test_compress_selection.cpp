// compactor-test-libs: compactor_compress
#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "compress/selection.h"

namespace compactor {
namespace {

std::vector<float> random_scores(int n_head_kv, int64_t n_tokens, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> s(static_cast<size_t>(n_head_kv) * static_cast<size_t>(n_tokens));
    for (float& x : s) x = normal(gen);
    return s;
}

bool strictly_increasing(const std::vector<int64_t>& rows) {
    return std::adjacent_find(rows.begin(), rows.end(), [](int64_t a, int64_t b) { return a >= b; }) == rows.end();
}

void expect_protected_kept(const KeptRows& kept, int64_t n_tokens, ScoredRange range) {
    for (size_t h = 0; h < kept.size(); ++h) {
        const std::set<int64_t> rows(kept[h].begin(), kept[h].end());
        for (int64_t t = 0; t < n_tokens; ++t) {
            if (!range.contains(t)) {
                EXPECT_TRUE(rows.count(t)) << "head " << h << " dropped protected token " << t;
            }
        }
    }
}

TEST(CompressSelection, KeepCountRoundsAndCoversProtected) {
    EXPECT_EQ(keep_count(268, 0.5, scored_range(268, 8, 4)), 134);
    EXPECT_EQ(keep_count(101, 0.5, scored_range(101, 8, 4)), 51);  // 50.5 rounds away from zero
    EXPECT_EQ(keep_count(100, 0.3, scored_range(100, 8, 4)), 70);
    // 20 · 0.1 = 2 rows would drop protected tokens, so all 12 stay.
    EXPECT_EQ(keep_count(20, 0.9, scored_range(20, 8, 4)), 12);
}

TEST(CompressSelection, ScoredRangeClampsShortContexts) {
    const ScoredRange r = scored_range(10, 8, 4);
    EXPECT_EQ(r.begin, 8);
    EXPECT_EQ(r.end, 8);
    const ScoredRange s = scored_range(5, 8, 4);
    EXPECT_EQ(s.begin, 5);
    EXPECT_EQ(s.end, 5);
}

TEST(CompressSelection, PerHeadCountsEqual) {
    const int n_head_kv = 3;
    const int64_t n = 200;
    const ScoredRange range = scored_range(n, 8, 4);
    const std::vector<float> scores = random_scores(n_head_kv, n, 1);
    const int64_t n_keep = keep_count(n, 0.6, range);

    const KeptRows kept = select_per_head(scores, n_head_kv, n, n_keep, range);
    ASSERT_EQ(kept.size(), 3u);
    for (const std::vector<int64_t>& rows : kept) {
        EXPECT_EQ(static_cast<int64_t>(rows.size()), n_keep);
        EXPECT_TRUE(strictly_increasing(rows));
    }
    expect_protected_kept(kept, n, range);
}

TEST(CompressSelection, PerHeadKeepsTopScores) {
    const int64_t n = 50;
    const ScoredRange range = scored_range(n, 2, 1);
    std::vector<float> scores(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) scores[static_cast<size_t>(t)] = static_cast<float>(t % 10);
    // Keep the 3 protected tokens and the 7 best: the four scored tokens at 9
    // (49 is protected) and, among the ties at 8, the lowest three indices.
    const KeptRows kept = select_per_head(scores, 1, n, 10, range);
    const std::vector<int64_t> expected = {0, 1, 8, 9, 18, 19, 28, 29, 39, 49};
    EXPECT_EQ(kept[0], expected);
}

TEST(CompressSelection, TiesBrokenByLowerIndex) {
    const int64_t n = 30;
    const ScoredRange range = scored_range(n, 0, 0);
    const std::vector<float> scores(static_cast<size_t>(n) * 2, 1.0f);
    const KeptRows per_head = select_per_head(scores, 2, n, 5, range);
    EXPECT_EQ(per_head[0], (std::vector<int64_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(per_head[1], (std::vector<int64_t>{0, 1, 2, 3, 4}));
    // Equal scores across heads: the lower head wins the shared budget.
    const KeptRows per_layer = select_per_layer(scores, 2, n, 5, range, 0.0);
    EXPECT_EQ(per_layer[0].size(), 10u);
    EXPECT_TRUE(per_layer[1].empty());
}

TEST(CompressSelection, PerLayerTotalAndFloor) {
    const int n_head_kv = 4;
    const int64_t n = 300;
    const ScoredRange range = scored_range(n, 8, 4);
    std::vector<float> scores = random_scores(n_head_kv, n, 2);
    // Head 3 scores far below the others, so only its floor keeps it alive.
    for (int64_t t = 0; t < n; ++t) scores[static_cast<size_t>(3 * n + t)] -= 100.0f;
    const int64_t n_keep = keep_count(n, 0.7, range);  // 90
    const double head_floor = 0.2;

    const KeptRows kept = select_per_layer(scores, n_head_kv, n, n_keep, range, head_floor);
    int64_t total = 0;
    for (const std::vector<int64_t>& rows : kept) {
        total += static_cast<int64_t>(rows.size());
        EXPECT_GE(static_cast<int64_t>(rows.size()), static_cast<int64_t>(head_floor * n_keep));
        EXPECT_TRUE(strictly_increasing(rows));
    }
    EXPECT_EQ(total, n_head_kv * n_keep);
    EXPECT_EQ(static_cast<int64_t>(kept[3].size()), static_cast<int64_t>(head_floor * n_keep));
    expect_protected_kept(kept, n, range);
}

TEST(CompressSelection, PerLayerHeadsDiffer) {
    const int64_t n = 120;
    const ScoredRange range = scored_range(n, 4, 2);
    std::vector<float> scores = random_scores(2, n, 3);
    for (int64_t t = 0; t < n; ++t) scores[static_cast<size_t>(t)] += 1.0f;  // head 0 ranks higher
    const KeptRows kept = select_per_layer(scores, 2, n, 60, range, 0.2);
    EXPECT_GT(kept[0].size(), kept[1].size());
    EXPECT_EQ(kept[0].size() + kept[1].size(), 120u);
}

TEST(CompressSelection, NaNScoreRejected) {
    std::vector<float> scores = random_scores(1, 40, 4);
    scores[20] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(select_per_head(scores, 1, 40, 20, scored_range(40, 8, 4)), std::invalid_argument);
}

TEST(CompressSelection, WrongScoreCountRejected) {
    const std::vector<float> scores(10, 0.0f);
    EXPECT_THROW(select_per_head(scores, 2, 10, 5, scored_range(10, 0, 0)), std::invalid_argument);
}

}  // namespace
}  // namespace compactor
