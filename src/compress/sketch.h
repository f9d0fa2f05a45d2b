// Seeded Gaussian sketch matrices for approximate leverage scores.
#pragma once

#include <cstdint>
#include <vector>

namespace compactor {

// Φ for one (layer, KV head): [head_dim × sketch_dim] row-major, entries drawn
// from N(0, 1/sketch_dim), so E[ΦΦᵀ] = I. The same (seed, il, h) always gives
// the same matrix with the same C++ standard library.
// NOTE: std::normal_distribution is implementation-defined, so libstdc++ and
// libc++ builds draw different sketches for one seed.
std::vector<float> gaussian_sketch(uint64_t seed, int il, int h, int head_dim, int sketch_dim);

}  // namespace compactor
