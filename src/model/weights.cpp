#include "model/weights.h"

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gguf/dequant.h"
#include "model/quant_dot.h"

namespace compactor {

namespace {

std::string shape_text(const int64_t* ne, uint32_t n_dims) {
    std::vector<int64_t> dims(ne, ne + n_dims);
    return fmt::format("[{}]", fmt::join(dims, ", "));
}

// Check the tensor's shape against `expected` (ggml order: ne[0] first).
void check_shape(const gguf::TensorInfo& tensor, std::vector<int64_t> expected) {
    bool matches = tensor.n_dims == expected.size();
    for (size_t i = 0; matches && i < expected.size(); ++i) matches = tensor.ne[i] == expected[i];
    if (!matches) {
        throw gguf::GgufError(fmt::format(
            "model: tensor {} has shape {}, expected {} (ggml order, ne[0] first); the file does "
            "not match its own metadata or was converted for another architecture",
            tensor.name, shape_text(tensor.ne, tensor.n_dims),
            shape_text(expected.data(), static_cast<uint32_t>(expected.size()))));
    }
}

std::vector<float> dequantize_tensor(const gguf::TensorInfo& tensor) {
    if (!gguf::can_dequantize(tensor.type)) {
        throw gguf::GgufError(fmt::format(
            "model: tensor {} has type {}, which cannot be dequantized; supported types are F32, "
            "F16, BF16, Q4_0, Q4_1 and Q8_0 (re-quantize the model to one of them)",
            tensor.name, gguf::type_name(tensor.type)));
    }
    std::vector<float> values(static_cast<size_t>(tensor.n_elements()));
    gguf::dequantize(tensor.type, tensor.data, values.data(), tensor.n_elements());
    return values;
}

// Load a required vector of the given ggml shape as fp32.
std::vector<float> load(const gguf::GgufFile& file, const std::string& name,
                        std::vector<int64_t> shape) {
    const gguf::TensorInfo& tensor = file.tensor(name);
    check_shape(tensor, std::move(shape));
    return dequantize_tensor(tensor);
}

// Load a tensor that may be absent; empty when it is.
std::vector<float> load_optional(const gguf::GgufFile& file, const std::string& name,
                                 std::vector<int64_t> shape) {
    const gguf::TensorInfo* tensor = file.find_tensor(name);
    if (tensor == nullptr) return {};
    check_shape(*tensor, std::move(shape));
    return dequantize_tensor(*tensor);
}

// Load a required matrix [n_out × n_in] (ggml shape {n_in, n_out}): in place
// when quantized weights are asked for and an int8 kernel takes its type,
// else dequantized to fp32.
WeightMatrix load_matrix(const gguf::GgufFile& file, const std::string& name, int64_t n_in, int64_t n_out,
                         WeightFormat format) {
    const gguf::TensorInfo& tensor = file.tensor(name);
    check_shape(tensor, {n_in, n_out});
    const bool keep_blocks = format == WeightFormat::quantized || format == WeightFormat::quantized_int8;
    if (keep_blocks && quant::has_int8_kernel(tensor.type) && n_in % quant::kBlock == 0) {
        return WeightMatrix::from_blocks(tensor.type, tensor.data, n_out, n_in,
                                         format == WeightFormat::quantized_int8);
    }
    return WeightMatrix::from_fp32(dequantize_tensor(tensor), n_out, n_in);
}

WeightMatrix load_optional_matrix(const gguf::GgufFile& file, const std::string& name, int64_t n_in,
                                  int64_t n_out, WeightFormat format) {
    if (file.find_tensor(name) == nullptr) return {};
    return load_matrix(file, name, n_in, n_out, format);
}

LayerWeights load_layer(const gguf::GgufFile& file, const ModelConfig& c, int il, WeightFormat format) {
    const std::string p = fmt::format("blk.{}.", il);
    const int64_t n_embd = c.n_embd;
    const int64_t n_q = static_cast<int64_t>(c.n_head) * c.head_dim;
    const int64_t n_kv = static_cast<int64_t>(c.n_head_kv) * c.head_dim;

    LayerWeights w;
    w.attn_norm = load(file, p + "attn_norm.weight", {n_embd});
    w.wq = load_matrix(file, p + "attn_q.weight", n_embd, n_q, format);
    w.wk = load_matrix(file, p + "attn_k.weight", n_embd, n_kv, format);
    w.wv = load_matrix(file, p + "attn_v.weight", n_embd, n_kv, format);
    w.bq = load_optional(file, p + "attn_q.bias", {n_q});
    w.bk = load_optional(file, p + "attn_k.bias", {n_kv});
    w.bv = load_optional(file, p + "attn_v.bias", {n_kv});
    w.wo = load_matrix(file, p + "attn_output.weight", n_q, n_embd, format);
    w.ffn_norm = load(file, p + "ffn_norm.weight", {n_embd});
    w.w_gate = load_matrix(file, p + "ffn_gate.weight", n_embd, c.n_ff, format);
    w.w_up = load_matrix(file, p + "ffn_up.weight", n_embd, c.n_ff, format);
    w.w_down = load_matrix(file, p + "ffn_down.weight", c.n_ff, n_embd, format);
    return w;
}

size_t bytes_of(const std::vector<float>& v) { return v.size() * sizeof(float); }

}  // namespace

size_t ModelWeights::size_bytes() const {
    size_t bytes = token_embd.size_bytes() + bytes_of(output_norm) + output.size_bytes() + bytes_of(rope_freqs);
    for (const LayerWeights& w : layers) {
        for (const auto* v : {&w.attn_norm, &w.bq, &w.bk, &w.bv, &w.ffn_norm}) bytes += bytes_of(*v);
        for (const auto* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) bytes += m->size_bytes();
    }
    return bytes;
}

ModelWeights load_weights(const gguf::GgufFile& file, const ModelConfig& config, WeightFormat format) {
    ModelWeights weights;
    weights.format = format;
    weights.token_embd = load_matrix(file, "token_embd.weight", config.n_embd, config.n_vocab, format);
    weights.output_norm = load(file, "output_norm.weight", {config.n_embd});
    weights.output = load_optional_matrix(file, "output.weight", config.n_embd, config.n_vocab, format);
    weights.rope_freqs = load_optional(file, "rope_freqs.weight", {config.n_rot / 2});

    weights.layers.reserve(static_cast<size_t>(config.n_layer));
    for (int il = 0; il < config.n_layer; ++il) weights.layers.push_back(load_layer(file, config, il, format));
    return weights;
}

}  // namespace compactor
