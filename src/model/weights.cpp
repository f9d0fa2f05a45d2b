#include "model/weights.h"

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gguf/dequant.h"

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

// Load a required tensor of the given ggml shape.
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

LayerWeights load_layer(const gguf::GgufFile& file, const ModelConfig& c, int il) {
    const std::string p = fmt::format("blk.{}.", il);
    const int64_t n_embd = c.n_embd;
    const int64_t n_q = static_cast<int64_t>(c.n_head) * c.head_dim;
    const int64_t n_kv = static_cast<int64_t>(c.n_head_kv) * c.head_dim;

    LayerWeights w;
    w.attn_norm = load(file, p + "attn_norm.weight", {n_embd});
    w.wq = load(file, p + "attn_q.weight", {n_embd, n_q});
    w.wk = load(file, p + "attn_k.weight", {n_embd, n_kv});
    w.wv = load(file, p + "attn_v.weight", {n_embd, n_kv});
    w.bq = load_optional(file, p + "attn_q.bias", {n_q});
    w.bk = load_optional(file, p + "attn_k.bias", {n_kv});
    w.bv = load_optional(file, p + "attn_v.bias", {n_kv});
    w.wo = load(file, p + "attn_output.weight", {n_q, n_embd});
    w.ffn_norm = load(file, p + "ffn_norm.weight", {n_embd});
    w.w_gate = load(file, p + "ffn_gate.weight", {n_embd, c.n_ff});
    w.w_up = load(file, p + "ffn_up.weight", {n_embd, c.n_ff});
    w.w_down = load(file, p + "ffn_down.weight", {c.n_ff, n_embd});
    return w;
}

size_t bytes_of(const std::vector<float>& v) { return v.size() * sizeof(float); }

}  // namespace

size_t ModelWeights::size_bytes() const {
    size_t bytes = bytes_of(token_embd) + bytes_of(output_norm) + bytes_of(output) + bytes_of(rope_freqs);
    for (const LayerWeights& w : layers) {
        for (const auto* v : {&w.attn_norm, &w.wq, &w.wk, &w.wv, &w.bq, &w.bk, &w.bv, &w.wo,
                              &w.ffn_norm, &w.w_gate, &w.w_up, &w.w_down}) {
            bytes += bytes_of(*v);
        }
    }
    return bytes;
}

ModelWeights load_weights(const gguf::GgufFile& file, const ModelConfig& config) {
    ModelWeights weights;
    weights.token_embd = load(file, "token_embd.weight", {config.n_embd, config.n_vocab});
    weights.output_norm = load(file, "output_norm.weight", {config.n_embd});
    weights.output = load_optional(file, "output.weight", {config.n_embd, config.n_vocab});
    weights.rope_freqs = load_optional(file, "rope_freqs.weight", {config.n_rot / 2});

    weights.layers.reserve(static_cast<size_t>(config.n_layer));
    for (int il = 0; il < config.n_layer; ++il) weights.layers.push_back(load_layer(file, config, il));
    return weights;
}

}  // namespace compactor
