#include "model/config.h"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace compactor {

namespace {

// Read a positive integer hyperparameter that fits an int.
int read_count(const gguf::GgufFile& file, const std::string& key, int64_t fallback = -1) {
    const int64_t value = fallback < 0 ? file.get_int(key) : file.get_int_or(key, fallback);
    if (value <= 0 || value > std::numeric_limits<int>::max()) {
        throw gguf::GgufError(
            fmt::format("model config: {} is {}, expected a positive count below 2^31", key, value));
    }
    return static_cast<int>(value);
}

RopeMode rope_mode_for(const std::string& arch) {
    if (arch == "llama" || arch == "mistral") return RopeMode::normal;
    if (arch == "qwen2") return RopeMode::neox;
    throw std::runtime_error(fmt::format(
        "model config: unsupported architecture \"{}\" (general.architecture); supported: {}",
        arch, kSupportedArchs));
}

void check_divisible(int64_t value, const char* value_name, int64_t divisor, const char* divisor_name) {
    if (value % divisor != 0) {
        throw gguf::GgufError(fmt::format("model config: {} ({}) is not divisible by {} ({})",
                                          value_name, value, divisor_name, divisor));
    }
}

}  // namespace

ModelConfig read_config(const gguf::GgufFile& file) {
    ModelConfig config;
    config.arch = file.get_string("general.architecture");
    config.rope_mode = rope_mode_for(config.arch);
    config.name = file.get_string_or("general.name", "");
    const std::string prefix = config.arch + ".";

    // Sizes
    config.n_ctx_train = read_count(file, prefix + "context_length");
    config.n_embd = read_count(file, prefix + "embedding_length");
    config.n_layer = read_count(file, prefix + "block_count");
    config.n_ff = read_count(file, prefix + "feed_forward_length");
    config.n_head = read_count(file, prefix + "attention.head_count");
    config.n_head_kv = read_count(file, prefix + "attention.head_count_kv", config.n_head);
    check_divisible(config.n_head, "n_head", config.n_head_kv, "n_head_kv");

    // Head size: key_length overrides n_embd / n_head, and values must match keys
    if (file.has(prefix + "attention.key_length")) {
        config.head_dim = read_count(file, prefix + "attention.key_length");
    } else {
        check_divisible(config.n_embd, "n_embd", config.n_head, "n_head");
        config.head_dim = config.n_embd / config.n_head;
    }
    const int value_length = read_count(file, prefix + "attention.value_length", config.head_dim);
    if (value_length != config.head_dim) {
        throw gguf::GgufError(fmt::format(
            "model config: {}attention.value_length ({}) differs from the key length ({}); "
            "only equal key and value head sizes are supported",
            prefix, value_length, config.head_dim));
    }

    // RoPE and normalization
    config.n_rot = read_count(file, prefix + "rope.dimension_count", config.head_dim);
    if (config.n_rot > config.head_dim || config.n_rot % 2 != 0) {
        throw gguf::GgufError(fmt::format(
            "model config: {}rope.dimension_count ({}) must be even and at most head_dim ({})",
            prefix, config.n_rot, config.head_dim));
    }
    config.rope_freq_base = static_cast<float>(file.get_float_or(prefix + "rope.freq_base", 10000.0));
    config.rms_norm_eps =
        static_cast<float>(file.get_float_or(prefix + "attention.layer_norm_rms_epsilon", 1e-5));
    if (!(config.rope_freq_base > 0.0f) || !(config.rms_norm_eps > 0.0f)) {
        throw gguf::GgufError(fmt::format(
            "model config: rope.freq_base ({}) and attention.layer_norm_rms_epsilon ({}) must be positive",
            config.rope_freq_base, config.rms_norm_eps));
    }

    // Vocabulary and output head come from the tensors
    const gguf::TensorInfo& embd = file.tensor("token_embd.weight");
    if (embd.ne[1] <= 0 || embd.ne[1] > std::numeric_limits<int>::max()) {
        throw gguf::GgufError(fmt::format("model config: token_embd.weight has {} rows, expected a "
                                          "positive vocabulary size below 2^31", embd.ne[1]));
    }
    config.n_vocab = static_cast<int>(embd.ne[1]);
    config.tied_output = file.find_tensor("output.weight") == nullptr;
    config.has_rope_freqs = file.find_tensor("rope_freqs.weight") != nullptr;
    return config;
}

}  // namespace compactor
