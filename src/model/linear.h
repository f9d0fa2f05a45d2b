// Dense kernels of the forward pass on token-major activations.
#pragma once

#include <cstdint>

#include "model/thread_pool.h"

namespace compactor {

// y [n_tokens × n_out] = x [n_tokens × n_in] · wᵀ + bias, with w [n_out × n_in]
// row-major and bias [n_out] or nullptr. The pool's threads each multiply a
// slice of w's rows through single-threaded BLAS (sgemv for one token).
void linear(const float* x, int64_t n_tokens, int64_t n_in, const float* w, int64_t n_out,
            const float* bias, float* y, ThreadPool& pool);

// y [n_tokens × n_embd] = x / sqrt(mean(x²) + eps) · weight, per token.
// y may alias x.
void rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n_embd, float eps,
              float* y, ThreadPool& pool);

// gate [n] = silu(gate) · up, in place: the SwiGLU activation.
void swiglu(float* gate, const float* up, int64_t n, ThreadPool& pool);

// x [n] += y [n].
void add_in_place(float* x, const float* y, int64_t n, ThreadPool& pool);

}  // namespace compactor
