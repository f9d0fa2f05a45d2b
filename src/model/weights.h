// The weights of a llama-family model. Matrices are WeightMatrix (fp32 or
// the file's quantized blocks, by WeightFormat); norms, biases and RoPE
// factors are always fp32.
#pragma once

#include <cstddef>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/config.h"
#include "model/weight_matrix.h"

namespace compactor {

struct LayerWeights {
    std::vector<float> attn_norm;  // [n_embd]
    WeightMatrix wq;               // [n_head·head_dim × n_embd]
    WeightMatrix wk;               // [n_head_kv·head_dim × n_embd]
    WeightMatrix wv;               // [n_head_kv·head_dim × n_embd]
    std::vector<float> bq;         // [n_head·head_dim], empty unless the model has Q/K/V biases (qwen2)
    std::vector<float> bk;         // [n_head_kv·head_dim], empty when absent
    std::vector<float> bv;         // [n_head_kv·head_dim], empty when absent
    WeightMatrix wo;               // [n_embd × n_head·head_dim]
    std::vector<float> ffn_norm;   // [n_embd]
    WeightMatrix w_gate;           // [n_ff × n_embd]
    WeightMatrix w_up;             // [n_ff × n_embd]
    WeightMatrix w_down;           // [n_embd × n_ff]
};

struct ModelWeights {
    WeightMatrix token_embd;           // [n_vocab × n_embd]
    std::vector<float> output_norm;    // [n_embd]
    WeightMatrix output;               // [n_vocab × n_embd], empty when tied to token_embd
    std::vector<float> rope_freqs;     // [n_rot / 2] frequency divisors, empty when absent
    std::vector<LayerWeights> layers;  // [n_layer]
    WeightFormat format = WeightFormat::fp32;

    // The output head [n_vocab × n_embd]: output, or token_embd when tied.
    const WeightMatrix& output_head() const { return output.empty() ? token_embd : output; }

    // Bytes the weights occupy in memory (quantized blocks count at their
    // size in the file).
    size_t size_bytes() const;
};

// Load every tensor the config calls for, in the given format. Throws
// gguf::GgufError naming a missing tensor, a tensor whose shape differs from the config (expected
// and found shapes in ggml order), or a type that cannot be dequantized.
// Quantized matrices point into `file`, which must outlive the weights.
ModelWeights load_weights(const gguf::GgufFile& file, const ModelConfig& config,
                          WeightFormat format = WeightFormat::quantized);

}  // namespace compactor
