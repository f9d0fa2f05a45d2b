// compactor-test-libs: compactor_kv
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kv/kv_cache.h"

namespace compactor {
namespace {

constexpr int kLayers = 2;
constexpr int kHeadsKv = 3;
constexpr int kHeadDim = 4;

// Value of element d of head h of token t in layer il; distinct for keys and
// values so a swapped copy shows.
float key_value(int il, int64_t t, int h, int d) {
    return static_cast<float>(il * 10000 + t * 100 + h * 10 + d);
}
float value_value(int il, int64_t t, int h, int d) { return -key_value(il, t, h, d) - 0.5f; }

// Token-major [n_tokens × n_head_kv × head_dim] blocks as the forward pass produces them.
void append_tokens(KvCache& cache, int64_t pos0, int64_t n_tokens) {
    for (int il = 0; il < kLayers; ++il) {
        std::vector<float> k(static_cast<size_t>(n_tokens * kHeadsKv * kHeadDim));
        std::vector<float> v(k.size());
        for (int64_t t = 0; t < n_tokens; ++t) {
            for (int h = 0; h < kHeadsKv; ++h) {
                for (int d = 0; d < kHeadDim; ++d) {
                    const size_t i = static_cast<size_t>((t * kHeadsKv + h) * kHeadDim + d);
                    k[i] = key_value(il, pos0 + t, h, d);
                    v[i] = value_value(il, pos0 + t, h, d);
                }
            }
        }
        cache.append(il, k.data(), v.data(), n_tokens, pos0);
    }
    cache.advance(n_tokens);
}

TEST(KvCache, AppendStoresRowsPerHead) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 3);
    append_tokens(cache, 3, 2);

    EXPECT_EQ(cache.next_pos(), 5);
    EXPECT_EQ(cache.max_length(), 5);
    EXPECT_EQ(cache.total_rows(), 5 * kLayers * kHeadsKv);
    for (int il = 0; il < kLayers; ++il) {
        for (int h = 0; h < kHeadsKv; ++h) {
            ASSERT_EQ(cache.length(il, h), 5);
            auto k = cache.keys(il, h);
            auto v = cache.values(il, h);
            auto pos = cache.positions(il, h);
            ASSERT_EQ(k.size(), 5u * kHeadDim);
            for (int64_t t = 0; t < 5; ++t) {
                EXPECT_EQ(pos[static_cast<size_t>(t)], t);
                for (int d = 0; d < kHeadDim; ++d) {
                    EXPECT_EQ(k[static_cast<size_t>(t * kHeadDim + d)], key_value(il, t, h, d));
                    EXPECT_EQ(v[static_cast<size_t>(t * kHeadDim + d)], value_value(il, t, h, d));
                }
            }
        }
    }
}

TEST(KvCache, SizeBytesCountsKeysAndValues) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim, 16);
    EXPECT_EQ(cache.size_bytes(), 0u);
    append_tokens(cache, 0, 7);
    EXPECT_EQ(cache.size_bytes(), size_t{7} * kLayers * kHeadsKv * kHeadDim * 2 * sizeof(float));
}

TEST(KvCache, CompactKeepsRowsInOrder) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 8);
    const size_t bytes_before = cache.size_bytes();

    const std::vector<int64_t> keep = {0, 2, 5, 7};
    cache.compact(1, 2, keep);

    ASSERT_EQ(cache.length(1, 2), 4);
    EXPECT_EQ(cache.length(1, 1), 8);
    EXPECT_EQ(cache.length(0, 2), 8);
    EXPECT_EQ(cache.max_length(), 8);
    EXPECT_EQ(cache.total_rows(), 8 * kLayers * kHeadsKv - 4);
    EXPECT_EQ(cache.size_bytes(), bytes_before - 4 * kHeadDim * 2 * sizeof(float));
    // Positions are the original ones; next_pos() ignores removals.
    EXPECT_EQ(cache.next_pos(), 8);

    auto k = cache.keys(1, 2);
    auto v = cache.values(1, 2);
    auto pos = cache.positions(1, 2);
    ASSERT_EQ(k.size(), 4u * kHeadDim);
    for (size_t i = 0; i < keep.size(); ++i) {
        EXPECT_EQ(pos[i], keep[i]);
        for (int d = 0; d < kHeadDim; ++d) {
            EXPECT_EQ(k[i * kHeadDim + static_cast<size_t>(d)], key_value(1, keep[i], 2, d));
            EXPECT_EQ(v[i * kHeadDim + static_cast<size_t>(d)], value_value(1, keep[i], 2, d));
        }
    }
}

TEST(KvCache, AppendAfterCompactContinuesPositions) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 6);
    const std::vector<int64_t> keep = {1, 4};
    cache.compact(0, 0, keep);
    append_tokens(cache, cache.next_pos(), 2);

    ASSERT_EQ(cache.length(0, 0), 4);
    auto pos = cache.positions(0, 0);
    EXPECT_EQ(pos[0], 1);
    EXPECT_EQ(pos[1], 4);
    EXPECT_EQ(pos[2], 6);
    EXPECT_EQ(pos[3], 7);
    EXPECT_EQ(cache.keys(0, 0)[2 * kHeadDim], key_value(0, 6, 0, 0));
    EXPECT_EQ(cache.length(0, 1), 8);
}

TEST(KvCache, CompactToEmptyAndKeepAll) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 4);
    cache.compact(0, 1, std::vector<int64_t>{});
    EXPECT_EQ(cache.length(0, 1), 0);
    EXPECT_TRUE(cache.keys(0, 1).empty());

    cache.compact(0, 0, std::vector<int64_t>{0, 1, 2, 3});
    EXPECT_EQ(cache.length(0, 0), 4);
    EXPECT_EQ(cache.keys(0, 0)[3 * kHeadDim], key_value(0, 3, 0, 0));
}

TEST(KvCache, CopyIsIndependent) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 5);
    KvCache copy = cache;

    copy.compact(0, 0, std::vector<int64_t>{3});
    copy.keys(1, 1)[0] = 12345.0f;
    append_tokens(copy, copy.next_pos(), 1);

    EXPECT_EQ(cache.length(0, 0), 5);
    EXPECT_EQ(cache.keys(1, 1)[0], key_value(1, 0, 1, 0));
    EXPECT_EQ(cache.next_pos(), 5);
    EXPECT_EQ(copy.length(0, 0), 2);
    EXPECT_EQ(copy.next_pos(), 6);
}

TEST(KvCache, ClearResetsRowsAndPosition) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 3);
    cache.clear();
    EXPECT_EQ(cache.total_rows(), 0);
    EXPECT_EQ(cache.next_pos(), 0);
    EXPECT_EQ(cache.size_bytes(), 0u);
    EXPECT_EQ(cache.n_layer(), kLayers);
}

TEST(KvCache, CompactRejectsBadIndices) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 5);

    EXPECT_THROW(cache.compact(0, 0, std::vector<int64_t>{0, 5}), std::invalid_argument);
    EXPECT_THROW(cache.compact(0, 0, std::vector<int64_t>{-1, 2}), std::invalid_argument);
    EXPECT_THROW(cache.compact(0, 0, std::vector<int64_t>{2, 2}), std::invalid_argument);
    EXPECT_THROW(cache.compact(0, 0, std::vector<int64_t>{3, 1}), std::invalid_argument);
    // A rejected call leaves the head unchanged.
    EXPECT_EQ(cache.length(0, 0), 5);
}

TEST(KvCache, RejectsBadLayerOrHead) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 2);
    const std::vector<float> row(kHeadsKv * kHeadDim, 1.0f);

    EXPECT_THROW(cache.length(kLayers, 0), std::invalid_argument);
    EXPECT_THROW(cache.keys(-1, 0), std::invalid_argument);
    EXPECT_THROW(cache.values(0, kHeadsKv), std::invalid_argument);
    EXPECT_THROW(cache.positions(0, -1), std::invalid_argument);
    EXPECT_THROW(cache.compact(0, kHeadsKv, std::vector<int64_t>{0}), std::invalid_argument);
    EXPECT_THROW(cache.append(kLayers, row.data(), row.data(), 1, 2), std::invalid_argument);
    EXPECT_THROW(cache.append(0, row.data(), row.data(), -1, 2), std::invalid_argument);
    EXPECT_THROW(cache.advance(-1), std::invalid_argument);
    EXPECT_THROW(KvCache(0, kHeadsKv, kHeadDim), std::invalid_argument);
}

TEST(KvCache, ErrorMessageNamesTheIndex) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 3);
    try {
        cache.compact(1, 2, std::vector<int64_t>{0, 9});
        FAIL() << "compact accepted index 9 of 3 rows";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("9"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("3 rows"), std::string::npos) << e.what();
    }
}

// Every row of every head equals the same row of `expected`.
void expect_same_rows(const KvCache& cache, const KvCache& expected) {
    ASSERT_EQ(cache.next_pos(), expected.next_pos());
    for (int il = 0; il < kLayers; ++il) {
        for (int h = 0; h < kHeadsKv; ++h) {
            ASSERT_EQ(cache.length(il, h), expected.length(il, h)) << "layer " << il << " head " << h;
            const auto same = [](auto a, auto b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); };
            EXPECT_TRUE(same(cache.keys(il, h), expected.keys(il, h))) << "layer " << il << " head " << h;
            EXPECT_TRUE(same(cache.values(il, h), expected.values(il, h))) << "layer " << il << " head " << h;
            EXPECT_TRUE(same(cache.positions(il, h), expected.positions(il, h))) << "layer " << il << " head " << h;
        }
    }
}

TEST(KvCache, RewindUndoesAppends) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 8);
    cache.compact(0, 1, std::vector<int64_t>{0, 3, 7});  // keeps the last row, position 7
    cache.compact(1, 2, std::vector<int64_t>{2, 4});      // keeps no row near the end
    const KvCache before = cache;

    append_tokens(cache, 8, 5);
    ASSERT_EQ(cache.length(0, 1), 8);
    cache.rewind(8);
    expect_same_rows(cache, before);

    // Appending again continues at the rewound position.
    append_tokens(cache, cache.next_pos(), 1);
    EXPECT_EQ(cache.positions(1, 2).back(), 8);
    EXPECT_EQ(cache.keys(1, 2)[2 * kHeadDim], key_value(1, 8, 2, 0));
}

TEST(KvCache, RewindKeepsCapacity) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 4);
    cache.reserve(6);
    const float* keys_before = cache.keys(0, 0).data();

    for (int round = 0; round < 3; ++round) {
        append_tokens(cache, 4, 6);
        EXPECT_EQ(cache.keys(0, 0).data(), keys_before) << "round " << round << " reallocated";
        cache.rewind(4);
    }
    EXPECT_EQ(cache.total_rows(), 4 * kLayers * kHeadsKv);
}

TEST(KvCache, RewindRejectsOutOfRange) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 3);
    const KvCache before = cache;
    cache.rewind(3);
    expect_same_rows(cache, before);

    EXPECT_THROW(cache.rewind(4), std::invalid_argument);
    EXPECT_THROW(cache.rewind(-1), std::invalid_argument);
    expect_same_rows(cache, before);

    cache.rewind(0);
    EXPECT_EQ(cache.total_rows(), 0);
    EXPECT_EQ(cache.next_pos(), 0);
}

TEST(KvCache, CopyWithRoomAppendsInPlace) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 6);
    cache.compact(1, 0, std::vector<int64_t>{1, 5});

    KvCache copy = cache.copy_with_room(3);
    expect_same_rows(copy, cache);

    const float* keys_before = copy.keys(1, 0).data();
    append_tokens(copy, copy.next_pos(), 3);
    EXPECT_EQ(copy.keys(1, 0).data(), keys_before);
    EXPECT_EQ(copy.length(1, 0), 5);
    EXPECT_EQ(cache.length(1, 0), 2);
    EXPECT_THROW(cache.copy_with_room(-1), std::invalid_argument);
}

TEST(KvCache, GatherRowsMatchesCompact) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 8);
    const std::vector<std::vector<int64_t>> keep = {{0, 3, 7}, {1, 2}, {}, {0, 1, 2, 3, 4, 5, 6, 7}, {5}, {2, 6}};

    KvCache compacted = cache;
    KvCache gathered = cache.empty_like();
    EXPECT_EQ(gathered.next_pos(), cache.next_pos());
    EXPECT_EQ(gathered.total_rows(), 0);
    for (int il = 0; il < kLayers; ++il) {
        for (int h = 0; h < kHeadsKv; ++h) {
            const std::vector<int64_t>& rows = keep[static_cast<size_t>(il * kHeadsKv + h)];
            compacted.compact(il, h, rows);
            gathered.gather_rows(il, h, cache, rows);
        }
    }
    expect_same_rows(gathered, compacted);
    EXPECT_EQ(gathered.next_pos(), compacted.next_pos());
    EXPECT_EQ(cache.total_rows(), kLayers * kHeadsKv * 8);
}

TEST(KvCache, GatherRowsWithRoomAppendsInPlace) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 6);
    KvCache gathered = cache.empty_like();
    for (int il = 0; il < kLayers; ++il) {
        for (int h = 0; h < kHeadsKv; ++h) gathered.gather_rows(il, h, cache, std::vector<int64_t>{1, 4}, 3);
    }

    const float* keys_before = gathered.keys(1, 0).data();
    append_tokens(gathered, gathered.next_pos(), 3);
    EXPECT_EQ(gathered.keys(1, 0).data(), keys_before);
    EXPECT_EQ(gathered.length(1, 0), 5);
}

TEST(KvCache, GatherRowsRejectsBadInput) {
    KvCache cache(kLayers, kHeadsKv, kHeadDim);
    append_tokens(cache, 0, 5);
    KvCache target = cache.empty_like();

    EXPECT_THROW(target.gather_rows(0, 0, cache, std::vector<int64_t>{5}), std::invalid_argument);
    EXPECT_THROW(target.gather_rows(0, 0, cache, std::vector<int64_t>{2, 2}), std::invalid_argument);
    EXPECT_THROW(target.gather_rows(0, 0, cache, std::vector<int64_t>{-1}), std::invalid_argument);
    EXPECT_THROW(target.gather_rows(0, 0, cache, std::vector<int64_t>{1}, -1), std::invalid_argument);
    EXPECT_THROW(target.gather_rows(kLayers, 0, cache, std::vector<int64_t>{1}), std::invalid_argument);

    const KvCache other_shape(kLayers, kHeadsKv, kHeadDim * 2);
    try {
        target.gather_rows(0, 0, other_shape, std::vector<int64_t>{});
        FAIL() << "a source of another shape was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("head_dim 8"), std::string::npos) << e.what();
    }
    EXPECT_EQ(target.total_rows(), 0);
}

}  // namespace
}  // namespace compactor
