// Random draws for the RULER-style generators that give the same values on
// every platform and standard library: std::mt19937_64's raw output is fixed
// by the C++ standard, but std::uniform_int_distribution and friends are not,
// so every draw here is computed from the raw 64-bit words.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

namespace compactor::eval {

// Seed of one sample's generator, mixed from everything that identifies the
// sample (splitmix64 steps over the seed, an FNV-1a hash of the task name, the
// index and the target length).
uint64_t sample_seed(uint64_t seed, std::string_view task, int64_t index, int64_t target_tokens);

class SampleRandom {
public:
    explicit SampleRandom(uint64_t seed);

    uint64_t next_u64();

    // Uniform in [0, n), without modulo bias (rejection sampling). n > 0.
    uint64_t below(uint64_t n);

    // Uniform in [lo, hi], both included. lo <= hi.
    int64_t between(int64_t lo, int64_t hi);

    // Uniform in [0, 1), from the top 53 bits of one draw.
    double unit();

    // A seed for an independent child generator, so that a builder can redraw
    // the same values however often it is called.
    uint64_t child_seed();

    // Fisher-Yates shuffle driven by below().
    template <typename T>
    void shuffle(std::vector<T>& items) {
        for (size_t i = items.size(); i > 1; --i) {
            const size_t j = static_cast<size_t>(below(i));
            std::swap(items[i - 1], items[j]);
        }
    }

    template <typename T>
    const T& pick(const std::vector<T>& items) {
        return items[static_cast<size_t>(below(items.size()))];
    }

private:
    std::mt19937_64 engine_;
};

}  // namespace compactor::eval
