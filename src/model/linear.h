// Dense kernels of the forward pass on token-major activations.
#pragma once

#include <cstdint>

#include "model/thread_pool.h"
#include "model/weight_matrix.h"

namespace compactor {

// y [n_tokens × n_out] = x [n_tokens × n_in] · wᵀ + bias, with w [n_out × n_in]
// row-major and bias [n_out] or nullptr. The pool's threads each multiply a
// slice of w's rows through single-threaded BLAS (sgemv for one token).
void linear(const float* x, int64_t n_tokens, int64_t n_in, const float* w, int64_t n_out,
            const float* bias, float* y, ThreadPool& pool);

// The same for a matrix in any WeightFormat, with n_in = w.n_in() and
// n_out = w.n_out(). fp32 matrices take the path above. Quantized ones
// multiply up to kBlockDotMaxTokens tokens (decode steps) straight from the
// blocks, with quant::dot_rows_f32, or quant::dot_rows on int8 activations
// when w.int8_activations(). Longer inputs (prefill) dequantize a few rows
// at a time into a per-thread buffer and multiply them with sgemm.
void linear(const float* x, int64_t n_tokens, const WeightMatrix& w, const float* bias, float* y,
            ThreadPool& pool);

// Token counts up to this multiply quantized weights straight from their
// blocks. Beyond it, sgemm on dequantized rows does more multiply-adds per
// weight read.
inline constexpr int64_t kBlockDotMaxTokens = 4;

// y [n_tokens × n_out] += bias [n_out], per token.
void add_bias(const float* bias, int64_t n_tokens, int64_t n_out, float* y);

// y [n_tokens × n_embd] = x / sqrt(mean(x²) + eps) · weight, per token.
// y may alias x.
void rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n_embd, float eps,
              float* y, ThreadPool& pool);

// gate [n] = silu(gate) · up, in place: the SwiGLU activation.
void swiglu(float* gate, const float* up, int64_t n, ThreadPool& pool);

// x [n] += y [n].
void add_in_place(float* x, const float* y, int64_t n, ThreadPool& pool);

}  // namespace compactor
