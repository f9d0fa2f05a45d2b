// One weight matrix of the model, as fp32 values or as the GGUF file's
// quantized blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/gguf_types.h"

namespace compactor {

// Storage format of the model's weight matrices in memory.
enum class WeightFormat {
    // Q4_0, Q4_1 and Q8_0 matrices stay in their blocks, read in place from
    // the mapped file. Decode steps multiply the blocks with fp32
    // activations (quant::dot_rows_f32), so results equal the fp32 format's
    // up to summation order. Longer inputs dequantize a few rows at a time
    // for sgemm. Other types are dequantized to fp32 at load.
    quantized,
    // As quantized, but decode steps round activations to int8 blocks and
    // use integer dot products (quant::dot_rows), as llama.cpp does. That is
    // faster per weight, but SmolLM2-135M's logits then moved by up to 1% of
    // the largest logit (the transformers parity prompts).
    quantized_int8,
    // Every matrix is dequantized to fp32 at load (about 6.4× the memory of
    // Q4_1), and every product is an fp32 BLAS call.
    fp32,
};

const char* to_string(WeightFormat format);

// Row-major [n_out × n_in], the order GGUF stores it (ggml's ne[0] is n_in),
// so a projection is X · Wᵀ.
class WeightMatrix {
public:
    WeightMatrix() = default;

    // Own fp32 values; values.size() must be n_out · n_in.
    static WeightMatrix from_fp32(std::vector<float> values, int64_t n_out, int64_t n_in);

    // Refer to quantized rows in place (a Q4_0, Q4_1 or Q8_0 tensor inside the
    // mapped GGUF file); `blocks` must outlive the matrix. With
    // int8_activations, decode steps quantize their inputs to int8.
    static WeightMatrix from_blocks(gguf::GgmlType type, const uint8_t* blocks, int64_t n_out, int64_t n_in,
                                    bool int8_activations = false);

    int64_t n_out() const { return n_out_; }
    int64_t n_in() const { return n_in_; }
    bool empty() const { return n_out_ == 0; }
    bool is_quantized() const { return blocks_ != nullptr; }
    gguf::GgmlType type() const { return type_; }
    bool int8_activations() const { return int8_activations_; }

    // The fp32 values; null when quantized.
    const float* fp32() const { return is_quantized() ? nullptr : values_.data(); }

    // Quantized rows: row o starts at blocks() + o · row_bytes().
    const uint8_t* blocks() const { return blocks_; }
    size_t row_bytes() const { return row_bytes_; }

    // Write rows [o0, o1) as fp32 to out [(o1 − o0) × n_in], in either format.
    void dequantize_rows(int64_t o0, int64_t o1, float* out) const;

    // Bytes the matrix occupies in memory (the blocks' size when quantized).
    size_t size_bytes() const;

private:
    int64_t n_out_ = 0;
    int64_t n_in_ = 0;
    gguf::GgmlType type_ = gguf::GgmlType::F32;
    std::vector<float> values_;        // fp32 format
    const uint8_t* blocks_ = nullptr;  // quantized format, not owned
    size_t row_bytes_ = 0;
    bool int8_activations_ = false;
};

}  // namespace compactor
