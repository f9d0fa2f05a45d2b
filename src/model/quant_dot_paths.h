// Kernels behind quant_dot.h, one set per KernelPath, and the GGUF block
// sizes they read. Private to src/model.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/quant_dot.h"

namespace compactor::quant::detail {

// Bytes per GGUF block. Q4_0 is {fp16 d; u8 qs[16]}, Q4_1 is
// {fp16 d; fp16 m; u8 qs[16]} and Q8_0 is {fp16 d; i8 qs[32]}, packed and
// little-endian. In the 4-bit types byte j of qs stores element j in its low
// nibble and element j + 16 in its high nibble.
inline constexpr size_t kQ4_0Bytes = 18;
inline constexpr size_t kQ4_1Bytes = 20;
inline constexpr size_t kQ8_0Bytes = 34;

// y[r] = dot(row r, x) for r in [0, n_rows), where row r starts at
// w + r · row_bytes and holds n_blocks blocks. Rows may sit at any byte
// address, as tensors in a mapped GGUF file do. No kernel allocates.
using RowsKernel = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const BlockQ8* x,
                            int64_t n_rows, float* y);

// quantize_row_q8() for n_blocks blocks.
using QuantizeKernel = void (*)(const float* x, int64_t n_blocks, BlockQ8* out);

// y[r] = Σ_i dequant(row r)[i] · x[i] for r in [0, n_rows), with the rows
// laid out as for RowsKernel and x holding n_blocks · kBlock floats at any
// 4-byte aligned address. Each row's result depends only on that row and x,
// never on n_rows or on the row's place in the range.
using RowsF32Kernel = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const float* x,
                               int64_t n_rows, float* y);

struct PathKernels {
    // Int8 activations.
    RowsKernel q4_0;
    RowsKernel q4_1;
    RowsKernel q8_0;
    QuantizeKernel quantize;
    // fp32 activations.
    RowsF32Kernel q4_0_f32;
    RowsF32Kernel q4_1_f32;
    RowsF32Kernel q8_0_f32;
};

// Each set is compiled for its instruction set whatever the build flags, so
// callers must check the CPU first (quant_dot.cpp does).
PathKernels scalar_kernels();
PathKernels avx2_kernels();
PathKernels avx512vnni_kernels();

}  // namespace compactor::quant::detail
