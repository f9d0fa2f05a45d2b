// Plain C++ kernels: the reference the SIMD paths are tested against. In the
// int8 kernels each block's integer dot product is exact, and the float
// combine is done once per block. The fp32-activation kernels sum each block
// in float and scale it once, except Q4_1, whose weights are rebuilt as
// d · q + m first (see quant_dot.h).
//
// NOTE: not tuned. bench/quant_matvec measures about 2.6 G weights/s for Q4_1
// on one core of a Xeon (Sapphire Rapids), about what fp32 sgemv reaches when
// its weights stream from memory, so CPUs without AVX2 gain little from int8.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "gguf/dequant.h"
#include "model/quant_dot_paths.h"

namespace compactor::quant::detail {

namespace {

float load_fp16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof(h));
    return gguf::fp16_to_fp32(h);
}

// Σ (q − offset) · a over one block of packed nibbles.
int32_t dot_nibbles(const uint8_t* qs, const int8_t* a, int32_t offset) {
    int32_t sum = 0;
    for (int64_t j = 0; j < kBlock / 2; ++j) {
        sum += ((qs[j] & 0x0f) - offset) * a[j];
        sum += ((qs[j] >> 4) - offset) * a[j + kBlock / 2];
    }
    return sum;
}

float dot_row_q4_0(const uint8_t* row, int64_t n_blocks, const BlockQ8* x) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* block = row + b * kQ4_0Bytes;
        const int32_t isum = dot_nibbles(block + 2, x[b].q, 8);
        sum += load_fp16(block) * x[b].d * static_cast<float>(isum);
    }
    return sum;
}

float dot_row_q4_1(const uint8_t* row, int64_t n_blocks, const BlockQ8* x) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* block = row + b * kQ4_1Bytes;
        const int32_t isum = dot_nibbles(block + 4, x[b].q, 0);
        sum += load_fp16(block) * x[b].d * static_cast<float>(isum) + load_fp16(block + 2) * x[b].s;
    }
    return sum;
}

float dot_row_q8_0(const uint8_t* row, int64_t n_blocks, const BlockQ8* x) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* block = row + b * kQ8_0Bytes;
        // Read through an int8_t pointer: GCC 12.2 at -O3 with AVX-VNNI
        // vectorizes static_cast<int8_t>(uint8_t) · int8_t sums into
        // vpdpbusd, which takes the weights as unsigned.
        const auto* qs = reinterpret_cast<const int8_t*>(block + 2);
        int32_t isum = 0;
        for (int64_t j = 0; j < kBlock; ++j) isum += qs[j] * x[b].q[j];
        sum += load_fp16(block) * x[b].d * static_cast<float>(isum);
    }
    return sum;
}

// fp32 activations. Every product is float × float, so GCC's int8 dot
// product pattern (see dot_row_q8_0) cannot apply.
//
// NOTE: GCC does not vectorize these float sums (that would reorder them), so
// bench/quant_matvec measures about 0.9 G weights/s for Q4_1 on one core of
// a Xeon (Sapphire Rapids). On CPUs without AVX2, fp32 sgemv on dequantized
// weights is faster where the weights fit in cache.
float dot_row_q4_0_f32(const uint8_t* row, int64_t n_blocks, const float* x) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* qs = row + b * kQ4_0Bytes + 2;
        const float* xb = x + b * kBlock;
        float block_sum = 0.0f;
        for (int64_t j = 0; j < kBlock / 2; ++j) {
            block_sum += static_cast<float>((qs[j] & 0x0f) - 8) * xb[j];
            block_sum += static_cast<float>((qs[j] >> 4) - 8) * xb[j + kBlock / 2];
        }
        sum += load_fp16(row + b * kQ4_0Bytes) * block_sum;
    }
    return sum;
}

float dot_row_q4_1_f32(const uint8_t* row, int64_t n_blocks, const float* x) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* block = row + b * kQ4_1Bytes;
        const float d = load_fp16(block);
        const float m = load_fp16(block + 2);
        const uint8_t* qs = block + 4;
        const float* xb = x + b * kBlock;
        for (int64_t j = 0; j < kBlock / 2; ++j) {
            const float w_lo = static_cast<float>(qs[j] & 0x0f) * d + m;
            const float w_hi = static_cast<float>(qs[j] >> 4) * d + m;
            sum += w_lo * xb[j];
            sum += w_hi * xb[j + kBlock / 2];
        }
    }
    return sum;
}

float dot_row_q8_0_f32(const uint8_t* row, int64_t n_blocks, const float* x) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
        const auto* qs = reinterpret_cast<const int8_t*>(row + b * kQ8_0Bytes + 2);
        const float* xb = x + b * kBlock;
        float block_sum = 0.0f;
        for (int64_t j = 0; j < kBlock; ++j) block_sum += static_cast<float>(qs[j]) * xb[j];
        sum += load_fp16(row + b * kQ8_0Bytes) * block_sum;
    }
    return sum;
}

template <class X, float (*DotRow)(const uint8_t*, int64_t, const X*)>
void rows(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const X* x, int64_t n_rows, float* y) {
    for (int64_t r = 0; r < n_rows; ++r) y[r] = DotRow(w + r * row_bytes, n_blocks, x);
}

// std::nearbyint rounds half to even in the default rounding mode, as the
// SIMD conversions (cvtps2dq) do, so every path writes the same blocks.
void quantize(const float* x, int64_t n_blocks, BlockQ8* out) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        const float* v = x + b * kBlock;
        BlockQ8& block = out[b];

        float amax = 0.0f;
        for (int64_t j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(v[j]));
        block.d = amax / 127.0f;

        if (block.d == 0.0f) {
            std::memset(block.q, 0, sizeof(block.q));
            block.s = 0.0f;
            continue;
        }

        int32_t sum = 0;
        for (int64_t j = 0; j < kBlock; ++j) {
            const int32_t q = static_cast<int32_t>(std::nearbyint(v[j] / block.d));
            block.q[j] = static_cast<int8_t>(q);
            sum += q;
        }
        block.s = block.d * static_cast<float>(sum);
    }
}

}  // namespace

PathKernels scalar_kernels() {
    return {&rows<BlockQ8, dot_row_q4_0>,    &rows<BlockQ8, dot_row_q4_1>,  &rows<BlockQ8, dot_row_q8_0>,
            &quantize,
            &rows<float, dot_row_q4_0_f32>, &rows<float, dot_row_q4_1_f32>, &rows<float, dot_row_q8_0_f32>};
}

}  // namespace compactor::quant::detail
