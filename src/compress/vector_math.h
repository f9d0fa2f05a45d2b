// Reductions over rows that the compiler vectorizes: max, dot product and
// squared norm.
//
// Under strict IEEE semantics (no -ffast-math) GCC does not reorder a plain
// `sum += x[i]` or max loop, so it runs one element at a time. These keep
// partial results in two 32-byte vectors (GCC and Clang vector extensions)
// and combine them at the end, so a sum can differ from the serial order in
// the last bits.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

namespace compactor {

namespace vector_math_detail {

typedef float Float8 __attribute__((vector_size(32)));
typedef double Double4 __attribute__((vector_size(32)));

inline Float8 load8(const float* x) {
    Float8 v;
    std::memcpy(&v, x, sizeof v);
    return v;
}

inline Float8 splat8(float value) { return Float8{value, value, value, value, value, value, value, value}; }

inline double lane_sum(Float8 a, Float8 b) {
    double total = 0.0;
    for (int l = 0; l < 8; ++l) total += static_cast<double>(a[l]) + static_cast<double>(b[l]);
    return total;
}

}  // namespace vector_math_detail

// Largest element of x [n]; −∞ when n is 0. NaN elements are skipped.
inline float max_of(const float* x, int64_t n) {
    using namespace vector_math_detail;
    Float8 a = splat8(-std::numeric_limits<float>::infinity());
    Float8 b = a;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const Float8 x0 = load8(x + i);
        const Float8 x1 = load8(x + i + 8);
        a = x0 > a ? x0 : a;
        b = x1 > b ? x1 : b;
    }
    float best = -std::numeric_limits<float>::infinity();
    for (int l = 0; l < 8; ++l) best = std::max({best, a[l], b[l]});
    for (; i < n; ++i) best = x[i] > best ? x[i] : best;
    return best;
}

// Σ x_i y_i over n elements, products and partial sums in float, the final
// sum in double.
inline double dot(const float* x, const float* y, int64_t n) {
    using namespace vector_math_detail;
    Float8 a = splat8(0.0f);
    Float8 b = a;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a += load8(x + i) * load8(y + i);
        b += load8(x + i + 8) * load8(y + i + 8);
    }
    double total = lane_sum(a, b);
    for (; i < n; ++i) total += static_cast<double>(x[i]) * y[i];
    return total;
}

inline double squared_norm(const float* x, int64_t n) { return dot(x, x, n); }

// Σ x_i² over n doubles.
inline double squared_norm(const double* x, int64_t n) {
    using namespace vector_math_detail;
    Double4 a = {0.0, 0.0, 0.0, 0.0};
    Double4 b = a;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        Double4 x0;
        Double4 x1;
        std::memcpy(&x0, x + i, sizeof x0);
        std::memcpy(&x1, x + i + 4, sizeof x1);
        a += x0 * x0;
        b += x1 * x1;
    }
    double total = (a[0] + b[0]) + (a[1] + b[1]) + (a[2] + b[2]) + (a[3] + b[3]);
    for (; i < n; ++i) total += x[i] * x[i];
    return total;
}

}  // namespace compactor
