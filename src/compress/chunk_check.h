// Input checks shared by the scorers' observe().
#pragma once

#include <cstdint>

#include "compress/compressor.h"

namespace compactor {

// Throws std::invalid_argument when `chunk` does not match `shape` or does
// not continue layer chunk.il at token `expected_pos0`. `scorer` names the
// caller in the message.
void check_chunk(const LayerChunk& chunk, const ModelShape& shape, int64_t expected_pos0, const char* scorer);

// Throws std::invalid_argument when `shape` has a non-positive size or
// n_head is not a multiple of n_head_kv.
void check_shape(const ModelShape& shape, const char* scorer);

}  // namespace compactor
