// Block layouts of ggml tensor types and their conversion to fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gguf/gguf_types.h"

namespace compactor::gguf {

// Name as ggml prints it ("F32", "Q4_1", ...); "unknown" for other codes.
std::string_view type_name(GgmlType type);

// True when `code` is one of the GgmlType values (the reader accepts only these).
bool is_known_type(uint32_t code);

// Elements per block (1 for F32/F16/BF16, 32 for Q4_0/Q4_1/Q8_0, 256 for K-quants).
int64_t block_size(GgmlType type);

// Bytes per block.
size_t type_size(GgmlType type);

// Bytes for n elements; n must be a multiple of block_size(type).
size_t row_size(GgmlType type, int64_t n);

// True when dequantize() supports the type: F32, F16, BF16, Q4_0, Q4_1, Q8_0.
bool can_dequantize(GgmlType type);

// Convert n elements (a multiple of the block size) from `src` to fp32 in `dst`.
// Throws std::invalid_argument for an unsupported type or a bad n.
void dequantize(GgmlType type, const void* src, float* dst, int64_t n);

// IEEE half and bfloat16 conversions.
float fp16_to_fp32(uint16_t h);
float bf16_to_fp32(uint16_t h);

// fp32 to IEEE half, rounding to nearest even; values beyond the half range
// become ±inf and NaN stays NaN (quiet). Used to write F16 data and the scales
// of quantized blocks.
uint16_t fp32_to_fp16(float f);

}  // namespace compactor::gguf
