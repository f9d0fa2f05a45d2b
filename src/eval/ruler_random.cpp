#include "eval/ruler_random.h"

#include <stdexcept>

namespace compactor::eval {

namespace {

// One step of splitmix64 (Steele, Lea and Flood 2014): a bijective mix whose
// output bits each depend on every input bit.
uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view text) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

}  // namespace

uint64_t sample_seed(uint64_t seed, std::string_view task, int64_t index, int64_t target_tokens) {
    uint64_t hash = splitmix64(seed);
    hash = splitmix64(hash ^ fnv1a(task));
    hash = splitmix64(hash ^ static_cast<uint64_t>(index));
    hash = splitmix64(hash ^ static_cast<uint64_t>(target_tokens));
    return hash;
}

SampleRandom::SampleRandom(uint64_t seed) : engine_(seed) {}

uint64_t SampleRandom::next_u64() {
    return engine_();
}

uint64_t SampleRandom::below(uint64_t n) {
    if (n == 0) throw std::invalid_argument("SampleRandom::below needs n > 0");

    // Draws at or above the largest multiple of n would favour small results.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t draw = engine_();
    while (draw >= limit) draw = engine_();
    return draw % n;
}

int64_t SampleRandom::between(int64_t lo, int64_t hi) {
    if (lo > hi) throw std::invalid_argument("SampleRandom::between needs lo <= hi");
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == UINT64_MAX) return static_cast<int64_t>(engine_());
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + below(span + 1));
}

double SampleRandom::unit() {
    return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

uint64_t SampleRandom::child_seed() {
    return splitmix64(engine_());
}

}  // namespace compactor::eval
