#include "compress/random_scorer.h"

#include "compress/scorer_registry.h"

namespace compactor {

namespace {

// The SplitMix64 finalizer (Steele, Lea and Flood, 2014): a bijection of
// 64-bit integers whose output bits each depend on every input bit.
uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t head_key(uint64_t seed, int il, int h) {
    uint64_t key = mix64(seed);
    key = mix64(key ^ static_cast<uint64_t>(static_cast<uint32_t>(il)));
    return mix64(key ^ static_cast<uint64_t>(static_cast<uint32_t>(h)));
}

// The top 24 bits as a float in [0, 1), which represents them exactly.
float unit_float(uint64_t bits) { return static_cast<float>(bits >> 40) * 0x1.0p-24f; }

}  // namespace

float random_score(uint64_t seed, int il, int h, int64_t t) {
    return unit_float(mix64(head_key(seed, il, h) ^ static_cast<uint64_t>(t)));
}

RandomScorer::RandomScorer(const CompressionOptions& options, const ModelShape& shape)
    : seed_(options.seed), shape_(shape), observed_(shape, "RandomScorer") {
    validate(options);
}

ScoreSet RandomScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = observed_.check_cache(cache);

    ScoreSet out;
    out.n_tokens = n_tokens;
    out.scores.resize(static_cast<size_t>(shape_.n_layer));
    for (int il = 0; il < shape_.n_layer; ++il) {
        std::vector<float>& layer = out.scores[static_cast<size_t>(il)];
        layer.resize(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens));
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            const uint64_t key = head_key(seed_, il, h);
            float* scores = layer.data() + static_cast<size_t>(h) * static_cast<size_t>(n_tokens);
            for (int64_t t = 0; t < n_tokens; ++t) scores[t] = unit_float(mix64(key ^ static_cast<uint64_t>(t)));
        }
    }
    return out;
}

std::unique_ptr<Scorer> make_random_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<RandomScorer>(options, shape);
}

}  // namespace compactor
