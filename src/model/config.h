// Hyperparameters of a llama-family model, read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

#include "gguf/gguf_file.h"

namespace compactor {

// Pairing of a head's dimensions for RoPE rotation.
enum class RopeMode {
    normal,  // adjacent pairs (x[2i], x[2i+1]): llama and mistral, whose Q/K rows the GGUF converter permuted
    neox,    // halves (x[i], x[i + n_rot/2]): qwen2
};

struct ModelConfig {
    std::string arch;            // general.architecture ("llama", "qwen2", ...)
    std::string name;            // general.name, empty when absent
    int n_vocab = 0;             // rows of token_embd.weight
    int n_ctx_train = 0;         // {arch}.context_length
    int n_embd = 0;              // {arch}.embedding_length
    int n_layer = 0;             // {arch}.block_count
    int n_head = 0;              // {arch}.attention.head_count
    int n_head_kv = 0;           // {arch}.attention.head_count_kv (defaults to n_head)
    int head_dim = 0;            // n_embd / n_head unless {arch}.attention.key_length sets it
    int n_ff = 0;                // {arch}.feed_forward_length
    int n_rot = 0;               // {arch}.rope.dimension_count: leading dims of a head that RoPE rotates (defaults to head_dim)
    RopeMode rope_mode = RopeMode::normal;  // set by arch
    float rope_freq_base = 10000.0f;  // {arch}.rope.freq_base
    float rms_norm_eps = 1e-5f;  // {arch}.attention.layer_norm_rms_epsilon
    bool tied_output = false;    // true when output.weight is absent and the embedding is reused
    bool has_rope_freqs = false; // true when rope_freqs.weight (per-pair frequency divisors, Llama 3.1+) is present
};

// Architectures the forward pass implements.
inline constexpr const char* kSupportedArchs = "\"llama\", \"qwen2\", \"mistral\"";

// Read and validate the config. Throws gguf::GgufError naming a missing or
// inconsistent key (for example n_embd not divisible by n_head), and
// std::runtime_error naming an unsupported architecture.
ModelConfig read_config(const gguf::GgufFile& file);

}  // namespace compactor
