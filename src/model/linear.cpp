#include "model/linear.h"

#include <algorithm>
#include <cmath>

#include <cblas.h>

namespace compactor {

namespace {

// Elements per task of the element-wise kernels: below this, dispatching to
// other threads costs more than it saves.
constexpr int64_t kElementsPerTask = 16384;

// y[:, o0:o1] for the rows o0 .. o1 − 1 of w. y keeps its full row stride n_out.
void linear_slice(const float* x, int64_t n_tokens, int64_t n_in, const float* w, int64_t n_out,
                  int64_t o0, int64_t o1, float* y) {
    const auto m = static_cast<blasint>(n_tokens);
    const auto n = static_cast<blasint>(o1 - o0);
    const auto k = static_cast<blasint>(n_in);
    const float* w_slice = w + o0 * n_in;
    if (n_tokens == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w_slice, k, x, 1, 0.0f, y + o0, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w_slice, k, 0.0f,
                    y + o0, static_cast<blasint>(n_out));
    }
}

// Run body(i0, i1) over [0, n) in ranges of kElementsPerTask.
template <typename Body>
void for_ranges(int64_t n, ThreadPool& pool, const Body& body) {
    const int64_t n_tasks = (n + kElementsPerTask - 1) / kElementsPerTask;
    pool.parallel_for(n_tasks, [&](int64_t task) {
        body(task * kElementsPerTask, std::min(n, (task + 1) * kElementsPerTask));
    });
}

}  // namespace

void linear(const float* x, int64_t n_tokens, int64_t n_in, const float* w, int64_t n_out,
            const float* bias, float* y, ThreadPool& pool) {
    // A few slices per thread balance the load when cores are shared. Slices
    // of at least 64 rows keep each BLAS call efficient.
    const int64_t n_slices = std::clamp<int64_t>(n_out / 64, 1, int64_t{4} * pool.n_threads());
    pool.parallel_for(n_slices, [&](int64_t i) {
        linear_slice(x, n_tokens, n_in, w, n_out, n_out * i / n_slices, n_out * (i + 1) / n_slices, y);
    });

    if (bias != nullptr) add_bias(bias, n_tokens, n_out, y);
}

void add_bias(const float* bias, int64_t n_tokens, int64_t n_out, float* y) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        float* row = y + t * n_out;
        for (int64_t i = 0; i < n_out; ++i) row[i] += bias[i];
    }
}

void rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n_embd, float eps,
              float* y, ThreadPool& pool) {
    const int64_t tokens_per_task = std::max<int64_t>(1, kElementsPerTask / n_embd);
    const int64_t n_tasks = (n_tokens + tokens_per_task - 1) / tokens_per_task;
    pool.parallel_for(n_tasks, [&](int64_t task) {
        const int64_t t_end = std::min(n_tokens, (task + 1) * tokens_per_task);
        for (int64_t t = task * tokens_per_task; t < t_end; ++t) {
            const float* in = x + t * n_embd;
            float* out = y + t * n_embd;
            // Sum of squares in double, which costs nothing next to the projections.
            double sum_sq = 0.0;
            for (int64_t i = 0; i < n_embd; ++i) sum_sq += static_cast<double>(in[i]) * in[i];
            const auto scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n_embd) + eps));
            for (int64_t i = 0; i < n_embd; ++i) out[i] = in[i] * scale * weight[i];
        }
    });
}

void swiglu(float* gate, const float* up, int64_t n, ThreadPool& pool) {
    for_ranges(n, pool, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            const float g = gate[i];
            gate[i] = g / (1.0f + std::exp(-g)) * up[i];
        }
    });
}

void add_in_place(float* x, const float* y, int64_t n, ThreadPool& pool) {
    for_ranges(n, pool, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) x[i] += y[i];
    });
}

}  // namespace compactor
