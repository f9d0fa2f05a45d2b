#include "compress/chunk_check.h"

#include <stdexcept>

#include <fmt/format.h>

namespace compactor {

void check_shape(const ModelShape& shape, const char* scorer) {
    if (shape.n_layer <= 0 || shape.n_head <= 0 || shape.n_head_kv <= 0 || shape.head_dim <= 0) {
        throw std::invalid_argument(fmt::format(
            "{}: model shape n_layer {}, n_head {}, n_head_kv {}, head_dim {} is invalid; all must be positive",
            scorer, shape.n_layer, shape.n_head, shape.n_head_kv, shape.head_dim));
    }
    if (shape.n_head % shape.n_head_kv != 0) {
        throw std::invalid_argument(fmt::format(
            "{}: n_head {} is not a multiple of n_head_kv {}; grouped-query attention needs whole groups",
            scorer, shape.n_head, shape.n_head_kv));
    }
}

void check_chunk(const LayerChunk& chunk, const ModelShape& shape, int64_t expected_pos0, const char* scorer) {
    if (chunk.il < 0 || chunk.il >= shape.n_layer) {
        throw std::invalid_argument(
            fmt::format("{}: layer {} is out of range, the model has {} layers", scorer, chunk.il, shape.n_layer));
    }
    if (chunk.n_head != shape.n_head || chunk.n_head_kv != shape.n_head_kv || chunk.head_dim != shape.head_dim) {
        throw std::invalid_argument(fmt::format(
            "{}: chunk of layer {} has n_head {}, n_head_kv {}, head_dim {}, expected {}, {}, {} "
            "as the scorer was built for",
            scorer, chunk.il, chunk.n_head, chunk.n_head_kv, chunk.head_dim, shape.n_head, shape.n_head_kv,
            shape.head_dim));
    }
    if (chunk.n_tokens < 0) {
        throw std::invalid_argument(
            fmt::format("{}: chunk of layer {} has n_tokens {}, expected >= 0", scorer, chunk.il, chunk.n_tokens));
    }
    if (chunk.pos0 != expected_pos0) {
        throw std::invalid_argument(fmt::format(
            "{}: chunk of layer {} starts at position {}, expected {}; chunks must arrive in document order "
            "without gaps, starting at 0",
            scorer, chunk.il, chunk.pos0, expected_pos0));
    }
}

}  // namespace compactor
