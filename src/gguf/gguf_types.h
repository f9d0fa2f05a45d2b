// Type codes of the GGUF file format (values as in ggml's ggml.h and gguf.h).
#pragma once

#include <cstdint>
#include <string_view>

namespace compactor::gguf {

// Tensor element types. Only the types listed here are known to the reader;
// a tensor of any other code is rejected with its name and offset.
enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
};

// Metadata value types.
enum class ValueType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};

// Name as the GGUF specification writes it ("uint32", "string", ...);
// "unknown" for other codes.
std::string_view value_type_name(ValueType type);

}  // namespace compactor::gguf
