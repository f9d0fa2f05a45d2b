// Vectorizable exp and softmax for attention rows. std::exp is a libm call
// that GCC does not vectorize without fast-math, and in attention it costs
// more than the matrix products at a few thousand tokens.
#pragma once

#include <bit>
#include <cstdint>

namespace compactor {

// exp(x) for x <= 0 within about 2e-7 relative error of std::exp, without a
// libm call or branch, so loops over it vectorize. Inputs below -87 return
// exp(-87), about 1.6e-38: negligible next to a softmax row's largest term, 1.
inline float exp_nonpositive(float x) {
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2Hi = 0.693145751953125f;  // few mantissa bits, so n · kLn2Hi is exact
    constexpr float kLn2Lo = 1.428606765330187045e-06f;
    constexpr float kRoundToInt = 12582912.0f;    // 1.5 · 2^23: adding and subtracting it rounds to an integer

    x = x < -87.0f ? -87.0f : x;
    const float n = (x * kLog2e + kRoundToInt) - kRoundToInt;
    const float r = (x - n * kLn2Hi) - n * kLn2Lo;  // |r| <= ln 2 / 2

    // Taylor series of e^r to r^6; the r^7 term is below 1.3e-7.
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;

    // 2^n from its exponent bits; n >= -126 keeps it a normal float.
    const int32_t bits = (static_cast<int32_t>(n) + 127) * (1 << 23);
    return p * std::bit_cast<float>(bits);
}

// The largest of x[0 .. n), -infinity for n = 0.
float max_of(const float* x, int64_t n);

// Replace x[j] by exp(x[j] - shift) for j < n and return their sum (in
// double across lanes). shift must be at least max(x) so every argument is <= 0.
double exp_shifted_in_place(float* x, int64_t n, float shift);

// Softmax of row[0 .. n) in place; n >= 1.
void softmax_in_place(float* row, int64_t n);

}  // namespace compactor
