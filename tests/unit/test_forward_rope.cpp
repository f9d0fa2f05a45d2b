// compactor-test-libs: compactor_model
// RoPE kernel against the rotation written out directly: pairing per mode,
// partial rotation (n_rot < head_dim) and per-pair frequency divisors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/rope.h"

namespace compactor {
namespace {

constexpr int kHeadDim = 8;

std::vector<float> ramp(size_t n) {
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = 0.25f * static_cast<float>(i) - 1.0f;
    return x;
}

// Rotate dims a and b of one head by θ.
void rotate(std::vector<float>& head, int a, int b, double theta) {
    const double x0 = head[static_cast<size_t>(a)];
    const double x1 = head[static_cast<size_t>(b)];
    head[static_cast<size_t>(a)] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
    head[static_cast<size_t>(b)] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
}

TEST(Rope, NormalModeRotatesAdjacentPairs) {
    const float base = 10000.0f;
    const int64_t pos = 37;
    std::vector<float> x = ramp(kHeadDim);
    std::vector<float> expected = x;
    for (int i = 0; i < kHeadDim / 2; ++i) {
        rotate(expected, 2 * i, 2 * i + 1, pos * std::pow(10000.0, -2.0 * i / kHeadDim));
    }

    const RopeTable table = make_rope_table(pos, 1, kHeadDim, base, {});
    apply_rope(x.data(), 1, 1, kHeadDim, RopeMode::normal, table);
    for (int d = 0; d < kHeadDim; ++d) EXPECT_NEAR(x[static_cast<size_t>(d)], expected[static_cast<size_t>(d)], 1e-6);
}

TEST(Rope, NeoxModeRotatesHalves) {
    const int64_t pos = 5;
    std::vector<float> x = ramp(kHeadDim);
    std::vector<float> expected = x;
    for (int i = 0; i < kHeadDim / 2; ++i) {
        rotate(expected, i, i + kHeadDim / 2, pos * std::pow(1e6, -2.0 * i / kHeadDim));
    }

    const RopeTable table = make_rope_table(pos, 1, kHeadDim, 1e6f, {});
    apply_rope(x.data(), 1, 1, kHeadDim, RopeMode::neox, table);
    for (int d = 0; d < kHeadDim; ++d) EXPECT_NEAR(x[static_cast<size_t>(d)], expected[static_cast<size_t>(d)], 1e-6);
}

TEST(Rope, PartialRotationLeavesTailAndUsesDivisors) {
    const int n_rot = 4;
    const std::vector<float> divisors = {1.0f, 8.0f};
    const int64_t pos0 = 100;
    const int n_tokens = 3;
    const int n_heads = 2;
    std::vector<float> x = ramp(static_cast<size_t>(n_tokens * n_heads * kHeadDim));
    std::vector<float> expected = x;
    for (int t = 0; t < n_tokens; ++t) {
        for (int h = 0; h < n_heads; ++h) {
            std::vector<float> head(expected.begin() + (t * n_heads + h) * kHeadDim,
                                    expected.begin() + (t * n_heads + h + 1) * kHeadDim);
            for (int i = 0; i < n_rot / 2; ++i) {
                const double theta = (pos0 + t) * std::pow(10000.0, -2.0 * i / n_rot) / divisors[static_cast<size_t>(i)];
                rotate(head, 2 * i, 2 * i + 1, theta);
            }
            std::copy(head.begin(), head.end(), expected.begin() + (t * n_heads + h) * kHeadDim);
        }
    }

    const RopeTable table = make_rope_table(pos0, n_tokens, n_rot, 10000.0f, divisors);
    apply_rope(x.data(), n_tokens, n_heads, kHeadDim, RopeMode::normal, table);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], expected[i], 1e-5) << "element " << i;
    // Dims n_rot .. head_dim − 1 are untouched.
    EXPECT_EQ(x[4], ramp(x.size())[4]);
    EXPECT_EQ(x[7], ramp(x.size())[7]);
}

TEST(Rope, PositionZeroIsIdentity) {
    std::vector<float> x = ramp(kHeadDim);
    const std::vector<float> original = x;
    const RopeTable table = make_rope_table(0, 1, kHeadDim, 10000.0f, {});
    apply_rope(x.data(), 1, 1, kHeadDim, RopeMode::neox, table);
    EXPECT_EQ(x, original);
}

}  // namespace
}  // namespace compactor
