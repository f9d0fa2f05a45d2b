#include "model/weight_matrix.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "gguf/dequant.h"
#include "model/quant_dot.h"

namespace compactor {

const char* to_string(WeightFormat format) {
    switch (format) {
        case WeightFormat::quantized: return "quantized";
        case WeightFormat::quantized_int8: return "quantized_int8";
        case WeightFormat::fp32: return "fp32";
    }
    return "unknown";
}

WeightMatrix WeightMatrix::from_fp32(std::vector<float> values, int64_t n_out, int64_t n_in) {
    if (values.size() != static_cast<size_t>(n_out * n_in)) {
        throw std::invalid_argument(fmt::format("weight matrix: got {} values for a {} × {} matrix, expected {}",
                                                values.size(), n_out, n_in, n_out * n_in));
    }
    WeightMatrix m;
    m.n_out_ = n_out;
    m.n_in_ = n_in;
    m.values_ = std::move(values);
    return m;
}

WeightMatrix WeightMatrix::from_blocks(gguf::GgmlType type, const uint8_t* blocks, int64_t n_out, int64_t n_in,
                                       bool int8_activations) {
    if (!quant::has_int8_kernel(type) || n_in % quant::kBlock != 0) {
        throw std::invalid_argument(fmt::format(
            "weight matrix: type {} with rows of {} values has no int8 kernel; expected Q4_0, Q4_1 or Q8_0 "
            "rows of a multiple of {} values",
            gguf::type_name(type), n_in, quant::kBlock));
    }
    WeightMatrix m;
    m.n_out_ = n_out;
    m.n_in_ = n_in;
    m.type_ = type;
    m.blocks_ = blocks;
    m.row_bytes_ = gguf::row_size(type, n_in);
    m.int8_activations_ = int8_activations;
    return m;
}

void WeightMatrix::dequantize_rows(int64_t o0, int64_t o1, float* out) const {
    if (!is_quantized()) {
        std::copy(values_.begin() + o0 * n_in_, values_.begin() + o1 * n_in_, out);
        return;
    }
    gguf::dequantize(type_, blocks_ + static_cast<size_t>(o0) * row_bytes_, out, (o1 - o0) * n_in_);
}

size_t WeightMatrix::size_bytes() const {
    if (is_quantized()) return static_cast<size_t>(n_out_) * row_bytes_;
    return values_.size() * sizeof(float);
}

}  // namespace compactor
