// Hyperparameters of a llama-family model, read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

#include "gguf/gguf_file.h"

namespace compactor {

struct ModelConfig {
    std::string arch;            // general.architecture ("llama", "qwen2", ...)
    std::string name;            // general.name, empty when absent
    int n_vocab = 0;             // rows of token_embd.weight
    int n_ctx_train = 0;         // {arch}.context_length
    int n_embd = 0;              // {arch}.embedding_length
    int n_layer = 0;             // {arch}.block_count
    int n_head = 0;              // {arch}.attention.head_count
    int n_head_kv = 0;           // {arch}.attention.head_count_kv (defaults to n_head)
    int head_dim = 0;            // n_embd / n_head unless {arch}.attention.key_length says otherwise
    int n_ff = 0;                // {arch}.feed_forward_length
    float rope_freq_base = 10000.0f;  // {arch}.rope.freq_base
    float rms_norm_eps = 1e-5f;  // {arch}.attention.layer_norm_rms_epsilon
    bool tied_output = false;    // true when output.weight is absent and the embedding is reused
};

// Read and validate the config; throws gguf::GgufError naming a missing or
// inconsistent key (for example n_embd not divisible by n_head).
ModelConfig read_config(const gguf::GgufFile& file);

}  // namespace compactor
