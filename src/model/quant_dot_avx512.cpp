// AVX-512 VNNI kernels: vpdpbusd (u8 × s8, four products summed into each
// i32 lane) on 512-bit vectors, four 32-weight blocks per row step.
//
// For 4-bit weights one vector carries the low nibbles of four blocks and
// another their high nibbles, one block per 128-bit lane. The activations are
// arranged the same way once per quad and shared by a group of four rows.
// Rows are stepped in pairs, so one conversion handles the fp16 scales of
// eight blocks.
// Q8_0 puts two blocks in each vector, one per 256-bit half.
//
// vpdpbusd needs unsigned weights. Q4_0's nibbles already are (the weight is
// q − 8), and Q8_0's bytes get 128 added. The i32 accumulators then start at
// −offset · Σ a, which depends only on the activations, so block sums stay
// exact.
//
// Block scales are gathered from the loaded bytes with permutes, four at a
// time, and converted from fp16 in one instruction. A row's last
// n_blocks % 4 blocks go through the same step with masked loads, which
// read nothing past the row and fill the missing blocks with zeros.
//
// Every function that uses vector types carries a target attribute rather
// than relying on build flags, so this file compiles for baseline x86-64 too.
// quant_dot.cpp calls it only on CPUs with AVX-512 F, BW, VL and VNNI. The
// fp32-activation kernels at the end of the file need only F and F16C.

// GCC 12's avx512fintrin.h initializes the "undefined" pass-through vectors
// of many intrinsics from themselves, which -Wuninitialized and
// -Wmaybe-uninitialized report wherever they are inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "model/quant_dot_paths.h"

#define COMPACTOR_AVX512 [[gnu::target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]]

namespace compactor::quant::detail {

namespace {

constexpr int kQuad = 4;      // blocks per step of the row loop
constexpr int kGroupRows = 4;  // rows that share one arrangement of the activations

// Word indices for 16-bit permutes (_mm512_setr_epi16 does not exist).
alignas(64) constexpr uint16_t kQ4_0QsWords[32] = {
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25, 26,
    56, 57, 58, 59, 60, 61, 62, 63};
alignas(64) constexpr uint16_t kQ4_0ScaleWords[32] = {0, 0, 9, 0, 18, 0, 27, 0, 32, 0, 41, 0, 50, 0, 59, 0};
alignas(64) constexpr uint16_t kQ8_0ScaleWords[32] = {0, 0, 17, 0, 34, 0, 51, 0};

// Mask of the first n bytes of a 64-byte load, for n in any range.
constexpr uint64_t first_bytes(int64_t n) {
    if (n <= 0) return 0;
    if (n >= 64) return ~uint64_t{0};
    return (uint64_t{1} << n) - 1;
}

COMPACTOR_AVX512 __m512i load_words(const uint16_t* indices) {
    return _mm512_load_si512(reinterpret_cast<const void*>(indices));
}

// (d, s) of four activation blocks as [d0, s0, d1, s1, d2, s2, d3, s3],
// repeated in both 256-bit halves for the two rows of a step. A BlockQ8 is
// 10 dwords with d and s first.
COMPACTOR_AVX512 __m512 load_ds(const BlockQ8* x) {
    const __m512 blocks01 = _mm512_loadu_ps(&x[0]);
    const __m512 blocks23 = _mm512_loadu_ps(&x[2]);
    const __m512i idx = _mm512_setr_epi32(0, 1, 10, 11, 16, 17, 26, 27, 0, 1, 10, 11, 16, 17, 26, 27);
    return _mm512_permutex2var_ps(blocks01, idx, blocks23);
}

// Block scales for the i32 sums of one row of a step: lanes 0, 2, 4, 6 of
// the row's half of `products` (block k's d_w · d_a), each repeated over the
// four sums of one 128-bit lane.
template <int Row>
COMPACTOR_AVX512 __m512 lane_scales(__m512 products) {
    constexpr int b = 8 * Row;
    const __m512i idx =
        _mm512_setr_epi32(b, b, b, b, b + 2, b + 2, b + 2, b + 2, b + 4, b + 4, b + 4, b + 4, b + 6, b + 6, b + 6, b + 6);
    return _mm512_permutexvar_ps(idx, products);
}

// Four activation blocks for 4-bit weights, block k in 128-bit lane k.
struct NibbleActivations {
    __m512i lo;  // elements 0..15
    __m512i hi;  // elements 16..31
    __m512 ds;
};

COMPACTOR_AVX512 NibbleActivations load_nibble_activations(const BlockQ8* x) {
    // Block k's quants are dwords 10k + 2 .. 10k + 9 of the quad.
    const auto* bytes = reinterpret_cast<const uint8_t*>(x);
    const __m512i dwords_2 = _mm512_loadu_si512(bytes + 8);
    const __m512i dwords_22 = _mm512_loadu_si512(bytes + 88);
    const __m512i dwords_6 = _mm512_loadu_si512(bytes + 24);
    const __m512i dwords_24 = _mm512_loadu_si512(bytes + 96);

    NibbleActivations a;
    a.lo = _mm512_permutex2var_epi32(
        dwords_2, _mm512_setr_epi32(0, 1, 2, 3, 10, 11, 12, 13, 16, 17, 18, 19, 26, 27, 28, 29), dwords_22);
    a.hi = _mm512_permutex2var_epi32(
        dwords_6, _mm512_setr_epi32(0, 1, 2, 3, 10, 11, 12, 13, 18, 19, 20, 21, 28, 29, 30, 31), dwords_24);
    a.ds = load_ds(x);
    return a;
}

// init + Σ q · a per i32 lane, with qs the packed nibbles of four blocks, one
// block per 128-bit lane.
COMPACTOR_AVX512 __m512i dot_nibbles(__m512i qs, const NibbleActivations& a, __m512i init) {
    const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
    const __m512i lo = _mm512_and_si512(qs, low_nibbles);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), low_nibbles);
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, lo, a.lo), hi, a.hi);
}

// −2^Shift · (partial + Σ a) per i32 lane, where partial is zero or a sum of
// other activations: the term that removes an offset of 2^Shift added to
// the weights to make them unsigned.
template <int Shift>
COMPACTOR_AVX512 __m512i minus_scaled_sum(__m512i partial, __m512i a) {
    const __m512i sum = _mm512_dpbusd_epi32(partial, _mm512_set1_epi8(1), a);
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, Shift));
}

// Two 64-byte loads of a quad, at byte offsets 0 and Second. With Tail, only
// the first `valid` bytes of the quad are read, and the rest are zeros.
template <bool Tail, int Second>
COMPACTOR_AVX512 void load_quad(const uint8_t* p, int64_t valid, __m512i& first, __m512i& second) {
    if constexpr (Tail) {
        first = _mm512_maskz_loadu_epi8(_cvtu64_mask64(first_bytes(valid)), p);
        second = _mm512_maskz_loadu_epi8(_cvtu64_mask64(first_bytes(valid - Second)), p + Second);
    } else {
        first = _mm512_loadu_si512(p);
        second = _mm512_loadu_si512(p + Second);
    }
}

// Each kernel's step takes blocks [0, n) of the quads at p0 and p1, two rows
// that share the activations; n < 4 only when Tail. Its accumulators hold
// float lanes whose sum is the row's dot product.
struct Q4_1 {
    static constexpr size_t kBytes = kQ4_1Bytes;

    using Act = NibbleActivations;

    COMPACTOR_AVX512 static Act load(const BlockQ8* x) { return load_nibble_activations(x); }

    template <bool Tail>
    COMPACTOR_AVX512 static void step(const uint8_t* p0, const uint8_t* p1, const Act& a, __m512& acc0,
                                      __m512& acc1, int64_t n) {
        // Block k is dword 5k (fp16 d, m) then dwords 5k + 1 .. 5k + 4 (qs),
        // so the second load starts at dword 4.
        __m512i head0, tail0, head1, tail1;
        load_quad<Tail, 16>(p0, n * static_cast<int64_t>(kBytes), head0, tail0);
        load_quad<Tail, 16>(p1, n * static_cast<int64_t>(kBytes), head1, tail1);
        const __m512i qs_idx = _mm512_setr_epi32(1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 28, 29, 30, 31);
        const __m512i isum0 = dot_nibbles(_mm512_permutex2var_epi32(head0, qs_idx, tail0), a, _mm512_setzero_si512());
        const __m512i isum1 = dot_nibbles(_mm512_permutex2var_epi32(head1, qs_idx, tail1), a, _mm512_setzero_si512());

        // [d0, m0, ..., d3, m3] of row 0, then of row 1.
        const __m512i dm_idx = _mm512_setr_epi32(0, 5, 10, 15, 16, 21, 26, 31, 0, 0, 0, 0, 0, 0, 0, 0);
        const __m256i dm = _mm512_castsi512_si256(_mm512_permutex2var_epi32(head0, dm_idx, head1));
        const __m512 products = _mm512_mul_ps(_mm512_cvtph_ps(dm), a.ds);

        // The odd lanes of the products are the offset terms m_w · s_a. Row
        // 1's move to the same lanes as row 0's, so that a row's result does
        // not depend on its place in a pair.
        const __m512 products_row1 = _mm512_shuffle_f32x4(products, products, _MM_SHUFFLE(3, 2, 3, 2));
        acc0 = _mm512_mask_add_ps(acc0, 0xaa, acc0, products);
        acc1 = _mm512_mask_add_ps(acc1, 0xaa, acc1, products_row1);
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum0), lane_scales<0>(products), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum1), lane_scales<1>(products), acc1);
    }
};

struct Q4_0 {
    static constexpr size_t kBytes = kQ4_0Bytes;

    // Weights are q − 8 with q the unsigned nibble: the i32 sums start at
    // −8 · Σ a, the same for every row.
    struct Act {
        NibbleActivations base;
        __m512i minus_8a;
    };

    COMPACTOR_AVX512 static Act load(const BlockQ8* x) {
        Act a;
        a.base = load_nibble_activations(x);
        const __m512i sum_lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), a.base.lo);
        a.minus_8a = minus_scaled_sum<3>(sum_lo, a.base.hi);
        return a;
    }

    template <bool Tail>
    COMPACTOR_AVX512 static void step(const uint8_t* p0, const uint8_t* p1, const Act& a, __m512& acc0,
                                      __m512& acc1, int64_t n) {
        // Block k is word 9k (fp16 d) then words 9k + 1 .. 9k + 8 (qs), so
        // the second load starts at word 4.
        __m512i head0, tail0, head1, tail1;
        load_quad<Tail, 8>(p0, n * static_cast<int64_t>(kBytes), head0, tail0);
        load_quad<Tail, 8>(p1, n * static_cast<int64_t>(kBytes), head1, tail1);
        const __m512i qs_idx = load_words(kQ4_0QsWords);
        const __m512i isum0 = dot_nibbles(_mm512_permutex2var_epi16(head0, qs_idx, tail0), a.base, a.minus_8a);
        const __m512i isum1 = dot_nibbles(_mm512_permutex2var_epi16(head1, qs_idx, tail1), a.base, a.minus_8a);

        // Zero-extended scales [d0, 0, d1, 0, ...] of row 0, then of row 1,
        // so the odd lanes of the products are 0 · s.
        const __m256i d = _mm512_castsi512_si256(
            _mm512_maskz_permutex2var_epi16(0x5555, head0, load_words(kQ4_0ScaleWords), head1));
        const __m512 products = _mm512_mul_ps(_mm512_cvtph_ps(d), a.base.ds);
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum0), lane_scales<0>(products), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum1), lane_scales<1>(products), acc1);
    }
};

// Two blocks of 32 bytes in one vector; with Tail, a block whose flag is
// false is not read and becomes zeros.
template <bool Tail>
COMPACTOR_AVX512 __m512i load_two_blocks(const uint8_t* first, const uint8_t* second, bool first_valid,
                                         bool second_valid) {
    __m256i lo, hi;
    if constexpr (Tail) {
        lo = _mm256_maskz_loadu_epi8(first_valid ? ~0u : 0u, first);
        hi = _mm256_maskz_loadu_epi8(second_valid ? ~0u : 0u, second);
    } else {
        lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(first));
        hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(second));
    }
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

struct Q8_0 {
    static constexpr size_t kBytes = kQ8_0Bytes;

    // Blocks 0, 1 and 2, 3, one per 256-bit half. The weights are read as
    // w + 128 (unsigned), so the i32 sums start at −128 · Σ a.
    struct Act {
        __m512i q01, q23;
        __m512i minus_128a01, minus_128a23;
        __m512 ds;
    };

    COMPACTOR_AVX512 static Act load(const BlockQ8* x) {
        Act a;
        a.q01 = load_two_blocks<false>(reinterpret_cast<const uint8_t*>(x[0].q),
                                       reinterpret_cast<const uint8_t*>(x[1].q), true, true);
        a.q23 = load_two_blocks<false>(reinterpret_cast<const uint8_t*>(x[2].q),
                                       reinterpret_cast<const uint8_t*>(x[3].q), true, true);
        a.minus_128a01 = minus_scaled_sum<7>(_mm512_setzero_si512(), a.q01);
        a.minus_128a23 = minus_scaled_sum<7>(_mm512_setzero_si512(), a.q23);
        a.ds = load_ds(x);
        return a;
    }

    // Σ over blocks 0..3 of one row: (w + 128) · a − 128 · Σ a, per i32 lane.
    template <bool Tail>
    COMPACTOR_AVX512 static void dot_row(const uint8_t* p, const Act& a, int64_t n, __m512i& isum01,
                                         __m512i& isum23) {
        // Block k is word 17k (fp16 d) then 32 bytes of qs.
        const __m512i w01 = load_two_blocks<Tail>(p + 2, p + kBytes + 2, n > 0, n > 1);
        const __m512i w23 = load_two_blocks<Tail>(p + 2 * kBytes + 2, p + 3 * kBytes + 2, n > 2, n > 3);
        const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
        isum01 = _mm512_dpbusd_epi32(a.minus_128a01, _mm512_xor_si512(w01, bias), a.q01);
        isum23 = _mm512_dpbusd_epi32(a.minus_128a23, _mm512_xor_si512(w23, bias), a.q23);
    }

    // Zero-extended scales [d0, 0, d1, 0, d2, 0, d3, 0] of one row.
    template <bool Tail>
    COMPACTOR_AVX512 static __m128i scales(const uint8_t* p, int64_t n) {
        __m512i words_0, words_32;
        load_quad<Tail, 64>(p, n * static_cast<int64_t>(kBytes), words_0, words_32);
        return _mm512_castsi512_si128(
            _mm512_maskz_permutex2var_epi16(0x55, words_0, load_words(kQ8_0ScaleWords), words_32));
    }

    template <bool Tail>
    COMPACTOR_AVX512 static void step(const uint8_t* p0, const uint8_t* p1, const Act& a, __m512& acc0,
                                      __m512& acc1, int64_t n) {
        __m512i isum01_0, isum23_0, isum01_1, isum23_1;
        dot_row<Tail>(p0, a, n, isum01_0, isum23_0);
        dot_row<Tail>(p1, a, n, isum01_1, isum23_1);

        const __m256i d = _mm256_inserti128_si256(_mm256_castsi128_si256(scales<Tail>(p0, n)), scales<Tail>(p1, n), 1);
        const __m512 products = _mm512_mul_ps(_mm512_cvtph_ps(d), a.ds);

        // Scales of blocks 0, 1 and 2, 3 of each row, one per 256-bit half.
        const __m512i idx01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
        const __m512i idx23 = _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6);
        const __m512i row1 = _mm512_set1_epi32(8);
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum01_0), _mm512_permutexvar_ps(idx01, products), acc0);
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum23_0), _mm512_permutexvar_ps(idx23, products), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum01_1),
                               _mm512_permutexvar_ps(_mm512_add_epi32(idx01, row1), products), acc1);
        acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum23_1),
                               _mm512_permutexvar_ps(_mm512_add_epi32(idx23, row1), products), acc1);
    }
};

// Rows [0, R) of a group, R even, where row r starts at w + r · row_stride.
// x_tail holds the last n_blocks % 4 activation blocks, zero-padded to a quad.
template <class K, int R>
COMPACTOR_AVX512 void row_group(const uint8_t* w, size_t row_stride, int64_t n_quads, int64_t n_tail,
                                const BlockQ8* x, const BlockQ8* x_tail, float* y) {
    static_assert(R % 2 == 0);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    constexpr size_t quad_bytes = kQuad * K::kBytes;

    for (int64_t i = 0; i < n_quads; ++i) {
        const typename K::Act a = K::load(x + i * kQuad);
#pragma GCC unroll 2
        for (int r = 0; r < R; r += 2) {
            const uint8_t* p = w + r * row_stride + i * quad_bytes;
            K::template step<false>(p, p + row_stride, a, acc[r], acc[r + 1], kQuad);
        }
    }

    if (n_tail > 0) {
        const typename K::Act a = K::load(x_tail);
#pragma GCC unroll 2
        for (int r = 0; r < R; r += 2) {
            const uint8_t* p = w + r * row_stride + n_quads * quad_bytes;
            K::template step<true>(p, p + row_stride, a, acc[r], acc[r + 1], n_tail);
        }
    }

    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

template <class K>
COMPACTOR_AVX512 void rows(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const BlockQ8* x,
                           int64_t n_rows, float* y) {
    const int64_t n_quads = n_blocks / kQuad;
    const int64_t n_tail = n_blocks % kQuad;
    BlockQ8 x_tail[kQuad] = {};
    std::memcpy(x_tail, x + n_quads * kQuad, static_cast<size_t>(n_tail) * sizeof(BlockQ8));

    int64_t o = 0;
    for (; o + kGroupRows <= n_rows; o += kGroupRows) {
        row_group<K, kGroupRows>(w + o * row_bytes, row_bytes, n_quads, n_tail, x, x_tail, y + o);
    }
    if (o + 2 <= n_rows) {
        row_group<K, 2>(w + o * row_bytes, row_bytes, n_quads, n_tail, x, x_tail, y + o);
        o += 2;
    }
    if (o < n_rows) {
        // A last odd row goes through the two-row step as both rows.
        float pair[2];
        row_group<K, 2>(w + o * row_bytes, 0, n_quads, n_tail, x, x_tail, pair);
        y[o] = pair[0];
    }
}

// fp32 activations: each block is widened to float and multiplied with x in
// 16-lane FMAs, 16 elements per vector, so a block is two vectors. Rows go
// in groups of four that share the loads of x.
//
// The 4-bit weights are looked up rather than converted. vpermps takes the
// low four bits of each i32 index, so a 16-entry float table maps the
// zero-extended bytes to their low-nibble values. The same bytes shifted
// right by 4 map to their high-nibble values. For Q4_0 the table is the
// constant q − 8. For Q4_1 it is d · q + m, built with one FMA per block, so
// the kernel multiplies by the dequantized weights themselves.
//
// The fp16 scales of kScaleChunk blocks are gathered from the row with
// two-source dword permutes and converted in one vcvtph2ps. The block loop
// then broadcasts each scale from memory, which needs no shuffle.

constexpr int64_t kScaleChunk = 16;  // blocks whose scales are converted together

// Permute tables that put the fp16 value at byte k · Stride + Offset of a
// chunk into lane k. Each lane gets a dword index within a pair of 64-byte
// loads, and a shift of 0 or 16 bits within that dword.
template <size_t Stride, size_t Offset>
struct ScaleGather {
    static_assert(Stride % 2 == 0 && Offset % 2 == 0, "an fp16 value must not straddle two dwords");
    static constexpr int kLastDword = static_cast<int>(((kScaleChunk - 1) * Stride + Offset) / 4);
    static constexpr int kLoads = kLastDword / 16 + 1;  // 64-byte loads that cover every value
    static constexpr int kPairs = (kLoads + 1) / 2;

    struct Tables {
        alignas(64) int32_t index[kPairs][16];
        alignas(64) int32_t shift[16];
        uint16_t lanes[kPairs];  // lanes whose dword lies in each pair
    };

    static constexpr Tables make_tables() {
        Tables t{};
        for (int k = 0; k < kScaleChunk; ++k) {
            const int byte = k * static_cast<int>(Stride) + static_cast<int>(Offset);
            const int pair = byte / 128;
            t.index[pair][k] = (byte % 128) / 4;
            t.shift[k] = (byte % 4) * 8;
            t.lanes[pair] = static_cast<uint16_t>(t.lanes[pair] | (1u << k));
        }
        return t;
    }

    static constexpr Tables kTables = make_tables();
};

// Load j of a chunk of `valid` bytes at p. Without Tail the chunk is whole,
// and only a load that would cross its end is masked. Masked-off bytes are
// not read and become zeros.
template <size_t Stride, bool Tail>
COMPACTOR_AVX512 __m512i load_chunk_part(const uint8_t* p, int j, int64_t valid) {
    if (!Tail && 64 * (j + 1) <= static_cast<int64_t>(kScaleChunk * Stride)) return _mm512_loadu_si512(p + 64 * j);
    return _mm512_maskz_loadu_epi8(_cvtu64_mask64(first_bytes(valid - 64 * j)), p + 64 * j);
}

// Gathers into lane k the dword that contains the fp16 value at byte
// k · Stride + Offset of the chunk at p, for k in [0, n). Reads only the
// chunk's first n · Stride bytes, and lanes past n are zeros.
template <size_t Stride, size_t Offset, bool Tail>
COMPACTOR_AVX512 __m512i gather_scale_dwords(const uint8_t* p, int64_t n) {
    using G = ScaleGather<Stride, Offset>;
    const int64_t valid = n * static_cast<int64_t>(Stride);
    __m512i result = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int pair = 0; pair < G::kPairs; ++pair) {
        const __m512i first = load_chunk_part<Stride, Tail>(p, 2 * pair, valid);
        const __m512i second =
            2 * pair + 1 < G::kLoads ? load_chunk_part<Stride, Tail>(p, 2 * pair + 1, valid) : _mm512_setzero_si512();
        const __m512i index = _mm512_load_si512(reinterpret_cast<const void*>(G::kTables.index[pair]));
        const __m512i picked = _mm512_permutex2var_epi32(first, index, second);
        result = _mm512_mask_blend_epi32(_cvtu32_mask16(G::kTables.lanes[pair]), result, picked);
    }
    return result;
}

// Converts the fp16 values at byte k · Stride + Offset of the chunk at p,
// for k in [0, n), to fp32 in out[k]. out[k] is 0 for k past n.
template <size_t Stride, size_t Offset, bool Tail>
COMPACTOR_AVX512 void load_scales(const uint8_t* p, int64_t n, float* out) {
    using G = ScaleGather<Stride, Offset>;
    const __m512i dwords = gather_scale_dwords<Stride, Offset, Tail>(p, n);
    const __m512i shift = _mm512_load_si512(reinterpret_cast<const void*>(G::kTables.shift));
    const __m256i halves = _mm512_cvtepi32_epi16(_mm512_srlv_epi32(dwords, shift));
    _mm512_store_ps(out, _mm512_cvtph_ps(halves));
}

// The 16 packed bytes of a 4-bit block zero-extended to i32 lanes. Lane j
// indexes a nibble table with element j (its low four bits) and, shifted
// right by 4, with element j + 16.
COMPACTOR_AVX512 __m512i load_nibble_pairs(const uint8_t* qs) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
}

// Elements 0..15 and 16..31 of one block of x.
struct XBlock {
    __m512 lo;
    __m512 hi;
};

struct Q4_0F32 {
    static constexpr size_t kBytes = kQ4_0Bytes;

    struct Scales {
        alignas(64) float d[kScaleChunk];
    };

    template <bool Tail>
    COMPACTOR_AVX512 static void load(const uint8_t* p, int64_t n, Scales& s) {
        load_scales<kBytes, 0, Tail>(p, n, s.d);
    }

    // acc += d · Σ (q − 8) · x.
    COMPACTOR_AVX512 static void block(const uint8_t* p, const XBlock& x, const Scales& s, int64_t k, __m512& acc) {
        const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
        const __m512i q = load_nibble_pairs(p + 2);
        const __m512 w_lo = _mm512_permutexvar_ps(q, table);
        const __m512 w_hi = _mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), table);
        const __m512 sum = _mm512_fmadd_ps(w_hi, x.hi, _mm512_mul_ps(w_lo, x.lo));
        acc = _mm512_fmadd_ps(sum, _mm512_set1_ps(s.d[k]), acc);
    }
};

struct Q4_1F32 {
    static constexpr size_t kBytes = kQ4_1Bytes;

    struct Scales {
        alignas(64) float d[kScaleChunk];
        alignas(64) float m[kScaleChunk];
    };

    // d and m of a block are the two halves of one dword, so one gather
    // serves both.
    template <bool Tail>
    COMPACTOR_AVX512 static void load(const uint8_t* p, int64_t n, Scales& s) {
        const __m512i dm = gather_scale_dwords<kBytes, 0, Tail>(p, n);
        _mm512_store_ps(s.d, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm)));
        _mm512_store_ps(s.m, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16))));
    }

    // acc += Σ (d · q + m) · x.
    COMPACTOR_AVX512 static void block(const uint8_t* p, const XBlock& x, const Scales& s, int64_t k, __m512& acc) {
        const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512 table = _mm512_fmadd_ps(iota, _mm512_set1_ps(s.d[k]), _mm512_set1_ps(s.m[k]));
        const __m512i q = load_nibble_pairs(p + 4);
        acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(q, table), x.lo, acc);
        acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), table), x.hi, acc);
    }
};

struct Q8_0F32 {
    static constexpr size_t kBytes = kQ8_0Bytes;

    using Scales = Q4_0F32::Scales;

    template <bool Tail>
    COMPACTOR_AVX512 static void load(const uint8_t* p, int64_t n, Scales& s) {
        load_scales<kBytes, 0, Tail>(p, n, s.d);
    }

    // acc += d · Σ q · x.
    COMPACTOR_AVX512 static void block(const uint8_t* p, const XBlock& x, const Scales& s, int64_t k, __m512& acc) {
        const __m128i q_lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
        const __m128i q_hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 18));
        const __m512 w_lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q_lo));
        const __m512 w_hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q_hi));
        const __m512 sum = _mm512_fmadd_ps(w_hi, x.hi, _mm512_mul_ps(w_lo, x.lo));
        acc = _mm512_fmadd_ps(sum, _mm512_set1_ps(s.d[k]), acc);
    }
};

// Rows [0, R) of w, where row r starts at w + r · row_bytes. Each row's
// operations are the same for every R, so its result is too.
template <class K, int R>
COMPACTOR_AVX512 void f32_row_group(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const float* x,
                                    float* y) {
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();

    for (int64_t c = 0; c < n_blocks; c += kScaleChunk) {
        const int64_t n = std::min(kScaleChunk, n_blocks - c);
        const uint8_t* chunk = w + c * K::kBytes;
        typename K::Scales scales[R];
        for (int r = 0; r < R; ++r) {
            if (n == kScaleChunk) {
                K::template load<false>(chunk + r * row_bytes, n, scales[r]);
            } else {
                K::template load<true>(chunk + r * row_bytes, n, scales[r]);
            }
        }

        for (int64_t k = 0; k < n; ++k) {
            const float* xb = x + (c + k) * kBlock;
            const XBlock xk{_mm512_loadu_ps(xb), _mm512_loadu_ps(xb + 16)};
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) K::block(chunk + r * row_bytes + k * K::kBytes, xk, scales[r], k, acc[r]);
        }
    }

    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

template <class K>
COMPACTOR_AVX512 void f32_rows(const uint8_t* w, size_t row_bytes, int64_t n_blocks, const float* x,
                               int64_t n_rows, float* y) {
    int64_t o = 0;
    for (; o + kGroupRows <= n_rows; o += kGroupRows) {
        f32_row_group<K, kGroupRows>(w + o * row_bytes, row_bytes, n_blocks, x, y + o);
    }
    for (; o < n_rows; ++o) f32_row_group<K, 1>(w + o * row_bytes, row_bytes, n_blocks, x, y + o);
}

}  // namespace

// Quantizing a row is a small share of a matrix-vector product, so this path
// reuses the AVX2 quantizer.
PathKernels avx512vnni_kernels() {
    return {&rows<Q4_0>,         &rows<Q4_1>,         &rows<Q8_0>, avx2_kernels().quantize,
            &f32_rows<Q4_0F32>, &f32_rows<Q4_1F32>, &f32_rows<Q8_0F32>};
}

}  // namespace compactor::quant::detail
