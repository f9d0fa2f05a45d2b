// The weights of a llama-family model, dequantized to fp32 at load.
//
// Every matrix is row-major [out × in], the order GGUF stores it (ggml's
// ne[0] is the input dimension), so a projection is X · Wᵀ.
#pragma once

#include <cstddef>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/config.h"

namespace compactor {

struct LayerWeights {
    std::vector<float> attn_norm;  // [n_embd]
    std::vector<float> wq;         // [n_head·head_dim × n_embd]
    std::vector<float> wk;         // [n_head_kv·head_dim × n_embd]
    std::vector<float> wv;         // [n_head_kv·head_dim × n_embd]
    std::vector<float> bq;         // [n_head·head_dim], empty unless the model has Q/K/V biases (qwen2)
    std::vector<float> bk;         // [n_head_kv·head_dim], empty when absent
    std::vector<float> bv;         // [n_head_kv·head_dim], empty when absent
    std::vector<float> wo;         // [n_embd × n_head·head_dim]
    std::vector<float> ffn_norm;   // [n_embd]
    std::vector<float> w_gate;     // [n_ff × n_embd]
    std::vector<float> w_up;       // [n_ff × n_embd]
    std::vector<float> w_down;     // [n_embd × n_ff]
};

struct ModelWeights {
    std::vector<float> token_embd;   // [n_vocab × n_embd]
    std::vector<float> output_norm;  // [n_embd]
    std::vector<float> output;       // [n_vocab × n_embd], empty when tied to token_embd
    std::vector<float> rope_freqs;   // [n_rot / 2] frequency divisors, empty when absent
    std::vector<LayerWeights> layers;  // [n_layer]

    // The output head [n_vocab × n_embd]: output, or token_embd when tied.
    const float* output_head() const { return output.empty() ? token_embd.data() : output.data(); }

    // Bytes of fp32 weights held in memory.
    size_t size_bytes() const;
};

// Dequantize every tensor the config calls for. Throws gguf::GgufError naming
// a missing tensor, a tensor whose shape differs from the config (expected
// and found shapes in ggml order), or a type that cannot be dequantized.
ModelWeights load_weights(const gguf::GgufFile& file, const ModelConfig& config);

}  // namespace compactor
