// Dot products of GGUF-quantized weight rows (Q4_0, Q4_1, Q8_0) with an
// activation vector, reading the weights in their blocks.
//
// Decoding one token reads every weight once. Kept in their GGUF blocks
// (Q4_1 is 0.625 bytes per weight against fp32's 4) the weights of
// SmolLM2-135M are 94 MiB instead of 513 MiB.
//
// Two kinds of kernel take the activations in different formats:
//
// - dot_rows_f32() takes fp32 activations and multiplies them with the
//   dequantized weights, so its result equals the fp32 dot product of
//   gguf::dequantize()'d rows up to float summation order. Use it where
//   results must match an fp32 reference. On SmolLM2-135M, int8 activations
//   move the logits by about 1% of the max logit and can change greedy
//   output.
// - dot_rows() takes activations quantized to int8 per block of 32 values,
//   as ggml's Q8_1 does: q = round(x / d) with d = max|x| / 127, and
//   s = d · Σq is kept so the offset of Q4_1 and Q4_0 weights costs one
//   multiply per block. Integer dot products do the multiply-adds 64 lanes
//   at a time. This is the scheme of llama.cpp's CPU backend, so results and
//   speed compare with llama.cpp's.
//
// Kernels are chosen once at run time from the CPU's features: AVX-512 with
// VNNI, AVX2, or plain C++. COMPACTOR_KERNEL=scalar|avx2|avx512vnni in the
// environment forces one (for tests and benchmarks); asking for a path the
// CPU lacks is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "gguf/gguf_types.h"

namespace compactor::quant {

// Elements per block of every supported weight type and of the activations.
inline constexpr int64_t kBlock = 32;

// One block of quantized activations. The kernels need q in [−127, 127],
// which quantize_row_q8() guarantees.
struct BlockQ8 {
    float d;         // scale: x ≈ d · q
    float s;         // d · Σ q, for the weight types with an offset
    int8_t q[kBlock];
};
static_assert(sizeof(BlockQ8) == 40);

enum class KernelPath { scalar, avx2, avx512vnni };

std::string_view kernel_path_name(KernelPath path);

// The path dot_rows() uses: COMPACTOR_KERNEL if set, else the fastest the CPU
// supports. Throws std::runtime_error naming the value when COMPACTOR_KERNEL
// is unknown or selects a path this CPU cannot run.
KernelPath active_kernel_path();

// The path a COMPACTOR_KERNEL value names. Throws std::runtime_error naming
// the value when it is unknown or selects a path this CPU cannot run.
KernelPath parse_kernel_path(std::string_view value);

// Every path this CPU can run, slowest first (scalar is always there).
std::span<const KernelPath> supported_kernel_paths();

// True for the weight types dot_rows() and dot_rows_f32() take: Q4_0, Q4_1
// and Q8_0.
bool has_int8_kernel(gguf::GgmlType type);

// Quantize n values (a multiple of kBlock) into n / kBlock blocks. q rounds
// half to even. Every path writes the same blocks for finite inputs.
void quantize_row_q8(const float* x, int64_t n, BlockQ8* out);

// The same on a given path (tests compare paths with it).
void quantize_row_q8_on(KernelPath path, const float* x, int64_t n, BlockQ8* out);

// y[o − o0] = dot(row o of w, x) for o in [o0, o1), where w holds rows of
// row_bytes bytes of `type` blocks (n_in / kBlock blocks each) and x holds
// n_in / kBlock activation blocks. Uses active_kernel_path(). A row's result
// is the same whatever range [o0, o1) it is computed in.
void dot_rows(gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in, const BlockQ8* x,
              int64_t o0, int64_t o1, float* y);

// The same on a given path (tests and benchmarks compare paths with it).
void dot_rows_on(KernelPath path, gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in,
                 const BlockQ8* x, int64_t o0, int64_t o1, float* y);

// y[o − o0] = Σ_i dequant(row o of w)[i] · x[i] for o in [o0, o1), with w
// laid out as for dot_rows() and x holding n_in floats. Q4_0 and Q8_0 blocks
// are summed as d · Σ q_i x_i. Q4_1 blocks are summed as Σ (d q_i + m) x_i
// rather than d · Σ q_i x_i + m · Σ x_i, because the offset m often nearly
// cancels d q_i and the split form would lose those digits. Uses
// active_kernel_path(), allocates nothing, and gives a row the same result
// whatever range [o0, o1) it is computed in. Throws std::invalid_argument
// for the same arguments dot_rows() rejects.
void dot_rows_f32(gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in, const float* x, int64_t o0,
                  int64_t o1, float* y);

// The same on a given path (tests and benchmarks compare paths with it).
void dot_rows_f32_on(KernelPath path, gguf::GgmlType type, const uint8_t* w, size_t row_bytes, int64_t n_in,
                     const float* x, int64_t o0, int64_t o1, float* y);

}  // namespace compactor::quant
