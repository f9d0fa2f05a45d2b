// Random scores: the baseline every method should beat.
#pragma once

#include <cstdint>

#include "compress/compressor.h"
#include "compress/observed_tokens.h"

namespace compactor {

// Every (layer, KV head, token) gets an independent uniform score in [0, 1)
// from a counter-based hash of (seed, layer, head, token), like kvpress 0.5.4
// RandomPress but with its own generator. The hash uses only 64-bit integer
// arithmetic, so a seed selects the same tokens on every platform and
// compiler, and the score of a token does not depend on the context length.
// The scores are multiples of 2⁻²⁴, so a few tokens of a long head may tie;
// selection breaks ties by the lower index.
//
// Departure from kvpress: compress() always keeps the first `sink` and the
// last `recent` tokens, which RandomPress does not protect.
class RandomScorer : public Scorer {
public:
    RandomScorer(const CompressionOptions& options, const ModelShape& shape);

    // Only counts tokens, so that finalize() can check the cache.
    void observe(const LayerChunk& chunk) override { observed_.observe(chunk); }
    ScoreSet finalize(const KvCache& cache) override;

private:
    uint64_t seed_;
    ModelShape shape_;
    ObservedTokens observed_;
};

// The score of token t of head h of layer il for `seed`, in [0, 1).
float random_score(uint64_t seed, int il, int h, int64_t t);

}  // namespace compactor
