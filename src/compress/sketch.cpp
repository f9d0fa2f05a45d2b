#include "compress/sketch.h"

#include <cmath>
#include <random>

namespace compactor {

namespace {

// SplitMix64 finalizer: spreads nearby (seed, layer, head) triples over
// unrelated generator states.
uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

std::vector<float> gaussian_sketch(uint64_t seed, int il, int h, int head_dim, int sketch_dim) {
    uint64_t state = mix(seed);
    state = mix(state ^ static_cast<uint64_t>(il));
    state = mix(state ^ (static_cast<uint64_t>(h) << 32));
    std::mt19937_64 generator(state);
    std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(sketch_dim)));

    std::vector<float> phi(static_cast<size_t>(head_dim) * static_cast<size_t>(sketch_dim));
    for (float& x : phi) x = static_cast<float>(normal(generator));
    return phi;
}

}  // namespace compactor
