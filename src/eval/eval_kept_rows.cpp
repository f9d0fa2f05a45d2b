#include "eval/eval_kept_rows.h"

namespace compactor::eval {

uint64_t kept_rows_hash(const KvCache& cache) {
    constexpr uint64_t kOffset = 14695981039346656037ull;
    constexpr uint64_t kPrime = 1099511628211ull;
    uint64_t hash = kOffset;
    const auto mix = [&hash](uint64_t value) {
        for (int byte = 0; byte < 8; ++byte) {
            hash ^= (value >> (8 * byte)) & 0xffu;
            hash *= kPrime;
        }
    };
    for (int il = 0; il < cache.n_layer(); ++il) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            // The length separates heads, so rows cannot shift between them unnoticed.
            mix(static_cast<uint64_t>(cache.length(il, h)));
            for (int32_t pos : cache.positions(il, h)) mix(static_cast<uint32_t>(pos));
        }
    }
    return hash;
}

}  // namespace compactor::eval
