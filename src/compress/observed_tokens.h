// Token counts of a scorer's prefill, checked against the cache at finalize().
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"

namespace compactor {

// Counts the tokens each layer has observed and ties them to the cache that
// finalize() receives, for scorers that read keys from the cache.
class ObservedTokens {
public:
    // `scorer` names the caller in error messages; it must outlive this object.
    ObservedTokens(const ModelShape& shape, const char* scorer);

    // Checks `chunk` (shape, layer, position: check_chunk) and counts its tokens.
    void observe(const LayerChunk& chunk);

    // Tokens observed by layer il so far.
    int64_t count(int il) const { return n_seen_[static_cast<size_t>(il)]; }

    // The tokens every layer observed. Throws std::runtime_error when the
    // layers differ, which means finalize() came in the middle of a chunk.
    int64_t n_tokens() const;

    // Returns n_tokens() after checking that `cache` has the model's layers,
    // KV heads and head_dim and that every head contains exactly n_tokens()
    // rows. Throws std::invalid_argument otherwise.
    int64_t check_cache(const KvCache& cache) const;

private:
    ModelShape shape_;
    const char* scorer_;
    std::vector<int64_t> n_seen_;  // [n_layer]
};

}  // namespace compactor
