#include "compress/observed_tokens.h"

#include <stdexcept>

#include <fmt/format.h>

#include "compress/chunk_check.h"

namespace compactor {

ObservedTokens::ObservedTokens(const ModelShape& shape, const char* scorer) : shape_(shape), scorer_(scorer) {
    check_shape(shape, scorer);
    n_seen_.assign(static_cast<size_t>(shape.n_layer), 0);
}

void ObservedTokens::observe(const LayerChunk& chunk) {
    const bool layer_ok = chunk.il >= 0 && chunk.il < shape_.n_layer;
    check_chunk(chunk, shape_, layer_ok ? count(chunk.il) : 0, scorer_);
    n_seen_[static_cast<size_t>(chunk.il)] += chunk.n_tokens;
}

int64_t ObservedTokens::n_tokens() const {
    const int64_t n = n_seen_[0];
    for (int il = 1; il < shape_.n_layer; ++il) {
        if (count(il) != n) {
            throw std::runtime_error(fmt::format(
                "{}: layer {} observed {} tokens but layer 0 observed {}; finalize after whole chunks", scorer_, il,
                count(il), n));
        }
    }
    return n;
}

int64_t ObservedTokens::check_cache(const KvCache& cache) const {
    const int64_t n = n_tokens();
    if (cache.n_layer() != shape_.n_layer || cache.n_head_kv() != shape_.n_head_kv ||
        cache.head_dim() != shape_.head_dim) {
        throw std::invalid_argument(fmt::format(
            "{}: the cache has {} layers, {} KV heads and head_dim {}, expected {}, {} and {} as the scorer was "
            "built for; pass the cache the prefill filled",
            scorer_, cache.n_layer(), cache.n_head_kv(), cache.head_dim(), shape_.n_layer, shape_.n_head_kv,
            shape_.head_dim));
    }
    for (int il = 0; il < shape_.n_layer; ++il) {
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            if (cache.length(il, h) != n) {
                throw std::invalid_argument(fmt::format(
                    "{}: layer {} head {} of the cache contains {} rows but the scorer observed {} tokens; "
                    "finalize right after prefilling the document into an empty cache, before any compaction",
                    scorer_, il, h, cache.length(il, h), n));
            }
        }
    }
    return n;
}

}  // namespace compactor
