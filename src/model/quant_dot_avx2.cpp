// AVX2 kernels: one 32-weight block per 256-bit step, multiplied with
// maddubs (u8 × s8 → pairs summed in i16) and madd (i16 pairs → i32).
//
// Rows go in groups of four that share each block of activations, and blocks
// go in quads whose four fp16 scales are converted in one instruction. A
// row's last n_blocks % 4 blocks take the same step with a shorter block
// loop and zeros for the missing scales, so no load reads past a row.
//
// Every function that uses vector types carries a target attribute rather
// than relying on build flags, so this file compiles for baseline x86-64
// too. quant_dot.cpp calls it only on CPUs with AVX2, FMA and F16C.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "model/quant_dot_paths.h"

#define COMPACTOR_AVX2 [[gnu::target("avx2,fma,f16c")]]

namespace compactor::quant::detail {

namespace {

constexpr int kQuad = 4;      // blocks per step of the row loop
constexpr int kGroupRows = 4;  // rows that share one load of the activations

int32_t load_u32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

int32_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// The leading fp16 values of blocks 0..3 of the quad at p, one dword per
// block: d and m with load_u32, d zero-extended with load_u16. Blocks at or
// past n give 0.
template <size_t BlockBytes, int32_t (*Load)(const uint8_t*)>
COMPACTOR_AVX2 __m128i block_heads(const uint8_t* p, int64_t n) {
    return _mm_setr_epi32(Load(p), n > 1 ? Load(p + BlockBytes) : 0, n > 2 ? Load(p + 2 * BlockBytes) : 0,
                          n > 3 ? Load(p + 3 * BlockBytes) : 0);
}

COMPACTOR_AVX2 float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Four activation blocks: their quants, and (d, s) pairs interleaved as
// [d0, s0, d1, s1, d2, s2, d3, s3].
struct Activations {
    __m256i q[kQuad];
    __m256 ds;
};

COMPACTOR_AVX2 Activations load_activations(const BlockQ8* x) {
    Activations a;
    for (int k = 0; k < kQuad; ++k) a.q[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[k].q));

    const __m128i ds01 = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&x[0].d)),
                                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(&x[1].d)));
    const __m128i ds23 = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&x[2].d)),
                                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(&x[3].d)));
    a.ds = _mm256_castsi256_ps(_mm256_set_m128i(ds23, ds01));
    return a;
}

// The 32 weights of a 4-bit block as unsigned bytes in element order: low
// nibbles (elements 0..15) in the low half, high nibbles in the high half.
COMPACTOR_AVX2 __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Lane 2k of `products` broadcast to all lanes: block k's d_w · d_a.
COMPACTOR_AVX2 __m256 block_scale(__m256 products, int k) {
    return _mm256_permutevar8x32_ps(products, _mm256_set1_epi32(2 * k));
}

// acc plus the i32 lane sums times block k's scale.
COMPACTOR_AVX2 __m256 add_scaled(__m256 acc, __m256i isum, __m256 products, int k) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), block_scale(products, k), acc);
}

struct Q4_1 {
    static constexpr size_t kBytes = kQ4_1Bytes;

    // The offset terms m_w · s_a are the odd lanes of `offsets`.
    struct Acc {
        __m256 scaled;
        __m256 offsets;
    };
    using Act = Activations;

    COMPACTOR_AVX2 static Acc zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }

    COMPACTOR_AVX2 static Act load(const BlockQ8* x) { return load_activations(x); }

    // Blocks [0, n) of the quad at p, 1 ≤ n ≤ 4.
    COMPACTOR_AVX2 static void step(const uint8_t* p, const Act& a, Acc& acc, int64_t n) {
        // (d, m) of each block is its first 4 bytes: [d0, m0, d1, m1, ...] as fp16.
        const __m128i dm = block_heads<kBytes, load_u32>(p, n);
        const __m256 products = _mm256_mul_ps(_mm256_cvtph_ps(dm), a.ds);
        acc.offsets = _mm256_add_ps(acc.offsets, products);

        const __m256i ones = _mm256_set1_epi16(1);
        for (int k = 0; k < n; ++k) {
            const __m256i w = unpack_nibbles(p + k * kBytes + 4);
            const __m256i isum = _mm256_madd_epi16(_mm256_maddubs_epi16(w, a.q[k]), ones);
            acc.scaled = add_scaled(acc.scaled, isum, products, k);
        }
    }

    COMPACTOR_AVX2 static float finish(const Acc& acc) {
        const __m256 odd = _mm256_blend_ps(_mm256_setzero_ps(), acc.offsets, 0xaa);
        return hsum(_mm256_add_ps(acc.scaled, odd));
    }
};

struct Q4_0 {
    static constexpr size_t kBytes = kQ4_0Bytes;

    struct Acc {
        __m256 scaled;
    };

    COMPACTOR_AVX2 static Acc zero() { return {_mm256_setzero_ps()}; }

    // Weights are q − 8 with q the unsigned nibble, so Σ (q − 8)·a is taken
    // as maddubs(q, a) − maddubs(8, a) in i16 pairs. The second term depends
    // only on the activations.
    struct Act {
        Activations base;
        __m256i eight_a[kQuad];
    };

    COMPACTOR_AVX2 static Act load(const BlockQ8* x) {
        Act a{load_activations(x), {}};
        for (int k = 0; k < kQuad; ++k) a.eight_a[k] = _mm256_maddubs_epi16(_mm256_set1_epi8(8), a.base.q[k]);
        return a;
    }

    COMPACTOR_AVX2 static void step(const uint8_t* p, const Act& a, Acc& acc, int64_t n) {
        // Zero-extended fp16 scales: [d0, 0, d1, 0, ...], so the odd lanes of
        // the products are 0 · s.
        const __m128i d = block_heads<kBytes, load_u16>(p, n);
        const __m256 products = _mm256_mul_ps(_mm256_cvtph_ps(d), a.base.ds);

        const __m256i ones = _mm256_set1_epi16(1);
        for (int k = 0; k < n; ++k) {
            const __m256i w = unpack_nibbles(p + k * kBytes + 2);
            const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(w, a.base.q[k]), a.eight_a[k]);
            acc.scaled = add_scaled(acc.scaled, _mm256_madd_epi16(pairs, ones), products, k);
        }
    }

    COMPACTOR_AVX2 static float finish(const Acc& acc) { return hsum(acc.scaled); }
};

struct Q8_0 {
    static constexpr size_t kBytes = kQ8_0Bytes;

    struct Acc {
        __m256 scaled;
    };

    COMPACTOR_AVX2 static Acc zero() { return {_mm256_setzero_ps()}; }
    using Act = Activations;

    COMPACTOR_AVX2 static Act load(const BlockQ8* x) { return load_activations(x); }

    // maddubs needs one unsigned operand, so |w| meets a with w's sign
    // applied. Pair sums stay below i16's limit: 2 · 128 · 127 = 32512,
    // because activations lie in [−127, 127].
    COMPACTOR_AVX2 static void step(const uint8_t* p, const Act& a, Acc& acc, int64_t n) {
        const __m128i d = block_heads<kBytes, load_u16>(p, n);
        const __m256 products = _mm256_mul_ps(_mm256_cvtph_ps(d), a.ds);

        const __m256i ones = _mm256_set1_epi16(1);
        for (int k = 0; k < n; ++k) {
            const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k * kBytes + 2));
            const __m256i w_abs = _mm256_sign_epi8(w, w);
            const __m256i a_signed = _mm256_sign_epi8(a.q[k], w);
            const __m256i isum = _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, a_signed), ones);
            acc.scaled = add_scaled(acc.scaled, isum, products, k);
        }
    }

    COMPACTOR_AVX2 static float finish(const Acc& acc) { return hsum(acc.scaled); }
};

// Rows [0, R) of w. x_tail holds the last n_blocks % 4 activation blocks,
// zero-padded to a quad.
template <class K, int R>
COMPACTOR_AVX2 void row_group(const uint8_t* w, size_t row_bytes, int64_t n_quads, int64_t n_tail,
                              const BlockQ8* x, const BlockQ8* x_tail, float* y) {
    typename K::Acc acc[R];
    for (int r = 0; r < R; ++r) acc[r] = K::zero();
    constexpr size_t quad_bytes = kQuad * K::kBytes;

    for (int64_t i = 0; i < n_quads; ++i) {
        const typename K::Act a = K::load(x + i * kQuad);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) K::step(w + r * row_bytes + i * quad_bytes, a, acc[r], kQuad);
    }

    if (n_tail > 0) {
        const typename K::Act a = K::load(x_tail);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) K::step(w + r * row_bytes + n_quads * quad_bytes, a, acc[r], n_tail);
    }

    for (int r = 0; r < R; ++r) y[r] = K::finish(acc[r]);
}

template <class K>
COMPACTOR_AVX2 void rows(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const BlockQ8* x, int64_t n_rows,
                         float* y) {
    const int64_t n_quads = n_blocks / kQuad;
    const int64_t n_tail = n_blocks % kQuad;
    BlockQ8 x_tail[kQuad] = {};
    std::memcpy(x_tail, x + n_quads * kQuad, static_cast<size_t>(n_tail) * sizeof(BlockQ8));

    int64_t o = 0;
    for (; o + kGroupRows <= n_rows; o += kGroupRows) {
        row_group<K, kGroupRows>(w + o * row_bytes, row_bytes, n_quads, n_tail, x, x_tail, y + o);
    }
    for (; o < n_rows; ++o) row_group<K, 1>(w + o * row_bytes, row_bytes, n_quads, n_tail, x, x_tail, y + o);
}

// Same output as the scalar quantizer: the max is exact in any order, and
// division then cvtps2dq (round half to even) matches std::nearbyint(x / d).
COMPACTOR_AVX2 void quantize(const float* x, int64_t n_blocks, BlockQ8* out) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n_blocks; ++b) {
        __m256 v[4];
        for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + b * kBlock + 8 * i);

        __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[0]), _mm256_andnot_ps(sign_bit, v[1]));
        m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[2]), _mm256_andnot_ps(sign_bit, v[3])));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));

        BlockQ8& block = out[b];
        block.d = _mm_cvtss_f32(m4) / 127.0f;
        if (block.d == 0.0f) {
            std::memset(block.q, 0, sizeof(block.q));
            block.s = 0.0f;
            continue;
        }

        const __m256 d = _mm256_set1_ps(block.d);
        __m256i q[4];
        for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_div_ps(v[i], d));

        // packs works within 128-bit lanes; the permute puts the 4-byte
        // groups back in element order.
        const __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        const __m256i q8 = _mm256_permutevar8x32_epi32(q16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(block.q), q8);

        const __m256i sum8 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i sum4 = _mm_add_epi32(_mm256_castsi256_si128(sum8), _mm256_extracti128_si256(sum8, 1));
        sum4 = _mm_add_epi32(sum4, _mm_unpackhi_epi64(sum4, sum4));
        sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 1));
        block.s = block.d * static_cast<float>(_mm_cvtsi128_si32(sum4));
    }
}

// fp32 activations: each block is widened to four vectors of 8 floats and
// multiplied with x in FMAs. Rows go in groups of four that share the loads
// of x. fp16 scales are gathered with scalar loads, kScaleChunk blocks at a
// time, and converted with vcvtph2ps. The block loop broadcasts them from
// memory.

constexpr int64_t kScaleChunk = 16;  // blocks whose scales are converted together

// The fp16 values at p + k · Stride for k in [0, n), n ≤ kScaleChunk, as
// fp32 in out[k]. Lanes past n are zeros, and no byte past the last value
// is read.
template <size_t Stride>
COMPACTOR_AVX2 void load_scales(const uint8_t* p, int64_t n, float* out) {
    alignas(32) uint16_t halves[kScaleChunk] = {};
    for (int64_t k = 0; k < n; ++k) std::memcpy(&halves[k], p + k * Stride, sizeof(uint16_t));
    for (int64_t k = 0; k < kScaleChunk; k += 8) {
        const __m128i h = _mm_load_si128(reinterpret_cast<const __m128i*>(halves + k));
        _mm256_store_ps(out + k, _mm256_cvtph_ps(h));
    }
}

// The 32 nibbles of a 4-bit block as i32, in element order: elements 0..7,
// 8..15 (low nibbles), 16..23 and 24..31 (high nibbles).
struct Nibbles {
    __m256i q[4];
};

COMPACTOR_AVX2 Nibbles load_nibbles(const uint8_t* qs) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i bytes_0_7 = _mm256_cvtepu8_epi32(packed);
    const __m256i bytes_8_15 = _mm256_cvtepu8_epi32(_mm_srli_si128(packed, 8));
    const __m256i low_nibble = _mm256_set1_epi32(0x0f);
    return {{_mm256_and_si256(bytes_0_7, low_nibble), _mm256_and_si256(bytes_8_15, low_nibble),
             _mm256_srli_epi32(bytes_0_7, 4), _mm256_srli_epi32(bytes_8_15, 4)}};
}

// One block of x, 8 elements per vector.
struct XBlock {
    __m256 v[4];
};

struct Q4_0F32 {
    static constexpr size_t kBytes = kQ4_0Bytes;

    struct Scales {
        alignas(32) float d[kScaleChunk];
    };

    COMPACTOR_AVX2 static void load(const uint8_t* p, int64_t n, Scales& s) { load_scales<kBytes>(p, n, s.d); }

    // acc += d · Σ (q − 8) · x, with q − 8 taken in i32 so it is exact.
    COMPACTOR_AVX2 static void block(const uint8_t* p, const XBlock& x, const Scales& s, int64_t k, __m256& acc) {
        const Nibbles q = load_nibbles(p + 2);
        const __m256i eight = _mm256_set1_epi32(8);
        __m256 sum = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q.q[0], eight)), x.v[0]);
        for (int i = 1; i < 4; ++i) {
            sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q.q[i], eight)), x.v[i], sum);
        }
        acc = _mm256_fmadd_ps(sum, _mm256_set1_ps(s.d[k]), acc);
    }
};

struct Q4_1F32 {
    static constexpr size_t kBytes = kQ4_1Bytes;

    struct Scales {
        alignas(32) float d[kScaleChunk];
        alignas(32) float m[kScaleChunk];
    };

    COMPACTOR_AVX2 static void load(const uint8_t* p, int64_t n, Scales& s) {
        load_scales<kBytes>(p, n, s.d);
        load_scales<kBytes>(p + 2, n, s.m);
    }

    // acc += Σ (d · q + m) · x: the weights are dequantized first, as on the
    // other paths.
    COMPACTOR_AVX2 static void block(const uint8_t* p, const XBlock& x, const Scales& s, int64_t k, __m256& acc) {
        const Nibbles q = load_nibbles(p + 4);
        const __m256 d = _mm256_set1_ps(s.d[k]);
        const __m256 m = _mm256_set1_ps(s.m[k]);
        for (int i = 0; i < 4; ++i) {
            acc = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_cvtepi32_ps(q.q[i]), d, m), x.v[i], acc);
        }
    }
};

struct Q8_0F32 {
    static constexpr size_t kBytes = kQ8_0Bytes;

    using Scales = Q4_0F32::Scales;

    COMPACTOR_AVX2 static void load(const uint8_t* p, int64_t n, Scales& s) { load_scales<kBytes>(p, n, s.d); }

    // acc += d · Σ q · x.
    COMPACTOR_AVX2 static void block(const uint8_t* p, const XBlock& x, const Scales& s, int64_t k, __m256& acc) {
        __m256 w[4];
        for (int i = 0; i < 4; ++i) {
            const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 + 8 * i));
            w[i] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
        }
        __m256 sum = _mm256_mul_ps(w[0], x.v[0]);
        for (int i = 1; i < 4; ++i) sum = _mm256_fmadd_ps(w[i], x.v[i], sum);
        acc = _mm256_fmadd_ps(sum, _mm256_set1_ps(s.d[k]), acc);
    }
};

// Rows [0, R) of w, where row r starts at w + r · row_bytes. Each row's
// operations are the same for every R, so its result is too.
template <class K, int R>
COMPACTOR_AVX2 void f32_row_group(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const float* x, float* y) {
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();

    for (int64_t c = 0; c < n_blocks; c += kScaleChunk) {
        const int64_t n = std::min(kScaleChunk, n_blocks - c);
        const uint8_t* chunk = w + c * K::kBytes;
        typename K::Scales scales[R];
        for (int r = 0; r < R; ++r) K::load(chunk + r * row_bytes, n, scales[r]);

        for (int64_t k = 0; k < n; ++k) {
            const float* xb = x + (c + k) * kBlock;
            XBlock xk;
            for (int i = 0; i < 4; ++i) xk.v[i] = _mm256_loadu_ps(xb + 8 * i);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) K::block(chunk + r * row_bytes + k * K::kBytes, xk, scales[r], k, acc[r]);
        }
    }

    for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

template <class K>
COMPACTOR_AVX2 void f32_rows(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const float* x, int64_t n_rows,
                             float* y) {
    int64_t o = 0;
    for (; o + kGroupRows <= n_rows; o += kGroupRows) {
        f32_row_group<K, kGroupRows>(w + o * row_bytes, row_bytes, n_blocks, x, y + o);
    }
    for (; o < n_rows; ++o) f32_row_group<K, 1>(w + o * row_bytes, row_bytes, n_blocks, x, y + o);
}

}  // namespace

PathKernels avx2_kernels() {
    return {&rows<Q4_0>,         &rows<Q4_1>,         &rows<Q8_0>, &quantize,
            &f32_rows<Q4_0F32>, &f32_rows<Q4_1F32>, &f32_rows<Q8_0F32>};
}

}  // namespace compactor::quant::detail
