// compactor-test-libs: compactor_model
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "model/sampler.h"

namespace compactor {
namespace {

const std::vector<float> kLogits = {0.5f, 2.0f, -1.0f, 1.9f, 2.0f, 0.0f};

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
    Sampler sampler(SamplingOptions{});
    EXPECT_EQ(sampler.sample(kLogits), 1);
    const std::vector<float> single = {-3.0f, 7.0f, 6.9f};
    EXPECT_EQ(sampler.sample(single), 1);
}

TEST(Sampler, TopKOneEqualsGreedy) {
    SamplingOptions options;
    options.temperature = 1.5f;
    options.top_k = 1;
    options.seed = 42;
    Sampler sampler(options);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.sample(kLogits), 1);
}

TEST(Sampler, SameSeedSameSequence) {
    SamplingOptions options;
    options.temperature = 1.0f;
    options.seed = 1234;
    Sampler a(options);
    Sampler b(options);
    std::vector<int32_t> seq_a, seq_b;
    for (int i = 0; i < 100; ++i) {
        seq_a.push_back(a.sample(kLogits));
        seq_b.push_back(b.sample(kLogits));
    }
    EXPECT_EQ(seq_a, seq_b);

    // A different seed gives a different sequence (100 draws from 6 tokens).
    options.seed = 99;
    Sampler c(options);
    std::vector<int32_t> seq_c;
    for (int i = 0; i < 100; ++i) seq_c.push_back(c.sample(kLogits));
    EXPECT_NE(seq_a, seq_c);
}

TEST(Sampler, TinyTopPTakesArgmax) {
    SamplingOptions options;
    options.temperature = 2.0f;
    options.top_p = 1e-6f;
    options.seed = 5;
    Sampler sampler(options);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.sample(kLogits), 1);
}

TEST(Sampler, DistributionFollowsSoftmax) {
    // p = softmax([0, ln 2, ln 7]) = [0.1, 0.2, 0.7]
    const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(7.0f)};
    SamplingOptions options;
    options.temperature = 1.0f;
    options.seed = 2024;
    Sampler sampler(options);
    std::array<int, 3> counts{};
    const int n_draws = 20000;
    for (int i = 0; i < n_draws; ++i) ++counts[static_cast<size_t>(sampler.sample(logits))];

    // Standard error is at most sqrt(0.25 / 20000) ≈ 0.0035; 0.015 is over 4σ.
    EXPECT_NEAR(counts[0] / static_cast<double>(n_draws), 0.1, 0.015);
    EXPECT_NEAR(counts[1] / static_cast<double>(n_draws), 0.2, 0.015);
    EXPECT_NEAR(counts[2] / static_cast<double>(n_draws), 0.7, 0.015);
}

TEST(Sampler, TopPDropsTail) {
    // With p = [0.1, 0.2, 0.7], top_p 0.8 keeps {2, 1}: token 0 never comes.
    const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(7.0f)};
    SamplingOptions options;
    options.temperature = 1.0f;
    options.top_p = 0.8f;
    options.seed = 3;
    Sampler sampler(options);
    std::array<int, 3> counts{};
    for (int i = 0; i < 5000; ++i) ++counts[static_cast<size_t>(sampler.sample(logits))];
    EXPECT_EQ(counts[0], 0);
    EXPECT_NEAR(counts[1] / 5000.0, 0.2 / 0.9, 0.03);
}

TEST(Sampler, TopKDropsTail) {
    SamplingOptions options;
    options.temperature = 10.0f;  // nearly uniform, so any token outside the top 2 would show
    options.top_k = 2;
    options.seed = 8;
    Sampler sampler(options);
    for (int i = 0; i < 500; ++i) {
        const int32_t id = sampler.sample(kLogits);
        EXPECT_TRUE(id == 1 || id == 4) << "token " << id << " is outside the top 2";
    }
}

TEST(Sampler, InvalidOptionsRejected) {
    SamplingOptions negative_temperature;
    negative_temperature.temperature = -0.1f;
    EXPECT_THROW(Sampler{negative_temperature}, std::invalid_argument);

    SamplingOptions zero_top_p;
    zero_top_p.top_p = 0.0f;
    EXPECT_THROW(Sampler{zero_top_p}, std::invalid_argument);

    SamplingOptions large_top_p;
    large_top_p.top_p = 1.5f;
    EXPECT_THROW(Sampler{large_top_p}, std::invalid_argument);

    SamplingOptions negative_top_k;
    negative_top_k.top_k = -1;
    EXPECT_THROW(Sampler{negative_top_k}, std::invalid_argument);

    Sampler greedy(SamplingOptions{});
    EXPECT_THROW(greedy.sample({}), std::invalid_argument);
}

}  // namespace
}  // namespace compactor
