// Block layouts (as ggml defines them) and scalar dequantization loops.
#include "gguf/dequant.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace compactor::gguf {

namespace {

constexpr int64_t QK = 32;     // elements per block of Q4_0, Q4_1, Q8_0 (and Q5_x, Q8_1)
constexpr int64_t QK_K = 256;  // elements per super-block of the K-quants

// Block layouts, little-endian and packed as in the file. In the 4-bit types
// byte j carries element j in its low nibble and element j + 16 in its high one.
struct BlockQ4_0 {
    uint16_t d;           // fp16 scale
    uint8_t qs[QK / 2];   // x = (q - 8) * d
};
struct BlockQ4_1 {
    uint16_t d;           // fp16 scale
    uint16_t m;           // fp16 minimum
    uint8_t qs[QK / 2];   // x = q * d + m
};
struct BlockQ8_0 {
    uint16_t d;           // fp16 scale
    int8_t qs[QK];        // x = q * d
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ8_0) == 34);

struct TypeTraits {
    std::string_view name;
    int64_t block_size;
    size_t type_size;
};

// Traits of every known type; type_size 0 marks a code that is not a type.
TypeTraits traits_of(GgmlType type) {
    switch (type) {
        case GgmlType::F32: return {"F32", 1, 4};
        case GgmlType::F16: return {"F16", 1, 2};
        case GgmlType::BF16: return {"BF16", 1, 2};
        case GgmlType::Q4_0: return {"Q4_0", QK, sizeof(BlockQ4_0)};
        case GgmlType::Q4_1: return {"Q4_1", QK, sizeof(BlockQ4_1)};
        case GgmlType::Q5_0: return {"Q5_0", QK, 22};
        case GgmlType::Q5_1: return {"Q5_1", QK, 24};
        case GgmlType::Q8_0: return {"Q8_0", QK, sizeof(BlockQ8_0)};
        case GgmlType::Q8_1: return {"Q8_1", QK, 40};
        case GgmlType::Q2_K: return {"Q2_K", QK_K, 84};
        case GgmlType::Q3_K: return {"Q3_K", QK_K, 110};
        case GgmlType::Q4_K: return {"Q4_K", QK_K, 144};
        case GgmlType::Q5_K: return {"Q5_K", QK_K, 176};
        case GgmlType::Q6_K: return {"Q6_K", QK_K, 210};
        case GgmlType::Q8_K: return {"Q8_K", QK_K, 292};
    }
    return {"unknown", 0, 0};
}

TypeTraits known_traits(GgmlType type) {
    const TypeTraits t = traits_of(type);
    if (t.type_size == 0) {
        throw std::invalid_argument("GGUF: unknown tensor type code " +
                                    std::to_string(static_cast<uint32_t>(type)));
    }
    return t;
}

void dequantize_f32(const uint8_t* src, float* dst, int64_t n) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_f16(const uint8_t* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
    }
}

void dequantize_bf16(const uint8_t* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_fp32(h);
    }
}

// Blocks are copied out with memcpy because tensor data in a mapped file is
// only as aligned as the file makes it.
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t ib = 0; ib < n_blocks; ++ib) {
        BlockQ4_0 b;
        std::memcpy(&b, src + ib * sizeof(BlockQ4_0), sizeof(BlockQ4_0));
        const float d = fp16_to_fp32(b.d);
        float* y = dst + ib * QK;
        for (int64_t j = 0; j < QK / 2; ++j) {
            y[j] = static_cast<float>((b.qs[j] & 0x0f) - 8) * d;
            y[j + QK / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t ib = 0; ib < n_blocks; ++ib) {
        BlockQ4_1 b;
        std::memcpy(&b, src + ib * sizeof(BlockQ4_1), sizeof(BlockQ4_1));
        const float d = fp16_to_fp32(b.d);
        const float m = fp16_to_fp32(b.m);
        float* y = dst + ib * QK;
        for (int64_t j = 0; j < QK / 2; ++j) {
            y[j] = static_cast<float>(b.qs[j] & 0x0f) * d + m;
            y[j + QK / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t ib = 0; ib < n_blocks; ++ib) {
        BlockQ8_0 b;
        std::memcpy(&b, src + ib * sizeof(BlockQ8_0), sizeof(BlockQ8_0));
        const float d = fp16_to_fp32(b.d);
        float* y = dst + ib * QK;
        for (int64_t j = 0; j < QK; ++j) {
            y[j] = static_cast<float>(b.qs[j]) * d;
        }
    }
}

}  // namespace

std::string_view type_name(GgmlType type) { return traits_of(type).name; }

bool is_known_type(uint32_t code) { return traits_of(static_cast<GgmlType>(code)).type_size != 0; }

int64_t block_size(GgmlType type) { return known_traits(type).block_size; }

size_t type_size(GgmlType type) { return known_traits(type).type_size; }

size_t row_size(GgmlType type, int64_t n) {
    const TypeTraits t = known_traits(type);
    if (n < 0 || n % t.block_size != 0) {
        throw std::invalid_argument("GGUF: element count " + std::to_string(n) + " of a " +
                                    std::string(t.name) + " row is not a multiple of its block size " +
                                    std::to_string(t.block_size));
    }
    return static_cast<size_t>(n / t.block_size) * t.type_size;
}

bool can_dequantize(GgmlType type) {
    switch (type) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::BF16:
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q8_0: return true;
        default: return false;
    }
}

void dequantize(GgmlType type, const void* src, float* dst, int64_t n) {
    if (!can_dequantize(type)) {
        throw std::invalid_argument("GGUF: dequantization of type " + std::string(type_name(type)) +
                                    " is not supported; supported: F32, F16, BF16, Q4_0, Q4_1, Q8_0");
    }
    row_size(type, n);  // validates n against the block size

    const auto* bytes = static_cast<const uint8_t*>(src);
    const int64_t n_blocks = n / block_size(type);
    switch (type) {
        case GgmlType::F32: dequantize_f32(bytes, dst, n); break;
        case GgmlType::F16: dequantize_f16(bytes, dst, n); break;
        case GgmlType::BF16: dequantize_bf16(bytes, dst, n); break;
        case GgmlType::Q4_0: dequantize_q4_0(bytes, dst, n_blocks); break;
        case GgmlType::Q4_1: dequantize_q4_1(bytes, dst, n_blocks); break;
        case GgmlType::Q8_0: dequantize_q8_0(bytes, dst, n_blocks); break;
        default: break;
    }
}

float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exponent = (h >> 10) & 0x1f;
    const uint32_t mantissa = h & 0x3ff;

    if (exponent == 0) {
        // Zero or subnormal: mantissa · 2^-24, exact in fp32.
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
        return std::bit_cast<float>(std::bit_cast<uint32_t>(magnitude) | sign);
    }
    if (exponent == 0x1f) {
        // Inf or NaN; the NaN payload is kept.
        return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
    }
    // Normal: rebias the exponent from 15 to 127.
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_fp16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
    uint32_t magnitude = x & 0x7fffffffu;

    if (magnitude >= 0x7f800000u) {
        // Inf stays inf; NaN keeps its top payload bits and is made quiet.
        const uint32_t nan_bits = magnitude > 0x7f800000u ? 0x200u | ((magnitude >> 13) & 0x3ffu) : 0;
        return static_cast<uint16_t>(sign | 0x7c00u | nan_bits);
    }
    if (magnitude >= 0x477ff000u) {
        // 65520 and above round past the largest half, 65504.
        return static_cast<uint16_t>(sign | 0x7c00u);
    }
    if (magnitude < 0x38800000u) {
        // Below 2^-14 the half is subnormal, in units of 2^-24; nearbyint rounds
        // to nearest even, and a result of 0x400 is correctly the smallest normal.
        const float units = std::bit_cast<float>(magnitude) * 0x1p24f;
        return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(units)));
    }
    // Normal: round the 13 dropped mantissa bits to nearest even; a carry
    // moves into the exponent, which is what rounding up requires.
    magnitude += 0x0fffu + ((magnitude >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((magnitude - (112u << 23)) >> 13));
}

}  // namespace compactor::gguf
