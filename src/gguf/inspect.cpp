// Summary report of a GGUF model file.
#include "gguf/inspect.h"

#include <algorithm>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "gguf/dequant.h"

namespace compactor::gguf {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr std::string_view kMissing = "(missing)";

std::string lookup(const GgufFile& file, const std::string& key) {
    const Value* v = file.find(key);
    return v == nullptr ? std::string(kMissing) : format_value(*v);
}

std::string vocab_size(const GgufFile& file, const std::string& arch) {
    if (const Value* v = file.find(arch + ".vocab_size")) return format_value(*v);
    const Value* tokens = file.find("tokenizer.ggml.tokens");
    if (tokens != nullptr && tokens->type == ValueType::ARRAY) {
        return std::to_string(tokens->as_array().elements.size());
    }
    return std::string(kMissing);
}

std::string tokenizer_line(const GgufFile& file) {
    const std::string model = lookup(file, "tokenizer.ggml.model");
    const Value* pre = file.find("tokenizer.ggml.pre");
    return pre == nullptr ? model : fmt::format("{} (pre-tokenizer {})", model, format_value(*pre));
}

std::string chat_template_line(const GgufFile& file) {
    const Value* t = file.find("tokenizer.chat_template");
    if (t == nullptr || t->type != ValueType::STRING) return "none";
    return fmt::format("present ({} chars)", t->as_string().size());
}

// "Q4_1 210, F32 61, Q8_0 1": most frequent type first.
std::string tensor_types_line(const GgufFile& file) {
    std::map<std::string_view, size_t> counts;
    for (const TensorInfo& t : file.tensors()) ++counts[type_name(t.type)];
    std::vector<std::pair<std::string_view, size_t>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });

    std::string line;
    for (const auto& [name, count] : sorted) {
        line += fmt::format("{}{} {}", line.empty() ? "" : ", ", name, count);
    }
    return line.empty() ? "none" : line;
}

uint64_t tensor_bytes(const GgufFile& file) {
    uint64_t total = 0;
    for (const TensorInfo& t : file.tensors()) total += t.n_bytes;
    return total;
}

}  // namespace

std::string format_value(const Value& value) {
    if (const auto* u = std::get_if<uint64_t>(&value.data)) return std::to_string(*u);
    if (const auto* i = std::get_if<int64_t>(&value.data)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&value.data)) return fmt::format("{:g}", *d);
    if (const auto* b = std::get_if<bool>(&value.data)) return *b ? "true" : "false";
    if (const auto* s = std::get_if<std::string>(&value.data)) return *s;
    const Array& a = std::get<Array>(value.data);
    return fmt::format("[array of {} {}]", a.elements.size(), value_type_name(a.element_type));
}

std::string inspect_report(const GgufFile& file) {
    const std::string arch = file.get_string_or("general.architecture", "");
    const std::string prefix = arch + ".";
    std::string out;
    const auto row = [&out](std::string_view label, const std::string& text) {
        out += fmt::format("{:<24}{}\n", label, text);
    };

    row("file", file.path());
    row("format", fmt::format("GGUF v{}, {} bytes ({:.1f} MiB)", file.version(), file.file_size(),
                              static_cast<double>(file.file_size()) / kMiB));
    row("architecture", arch.empty() ? std::string(kMissing) : arch);
    row("name", lookup(file, "general.name"));

    // Hyperparameters: label and GGUF key under the architecture prefix.
    const std::pair<const char*, const char*> hyperparameters[] = {
        {"context_length", "context_length"},
        {"embedding_length", "embedding_length"},
        {"block_count", "block_count"},
        {"feed_forward_length", "feed_forward_length"},
        {"head_count", "attention.head_count"},
        {"head_count_kv", "attention.head_count_kv"},
        {"rope.freq_base", "rope.freq_base"},
        {"layer_norm_rms_epsilon", "attention.layer_norm_rms_epsilon"},
    };
    for (const auto& [label, key] : hyperparameters) row(label, lookup(file, prefix + key));
    row("vocab_size", vocab_size(file, arch));

    row("tokenizer", tokenizer_line(file));
    row("chat template", chat_template_line(file));
    row("metadata keys", std::to_string(file.metadata().size()));
    row("tensors", fmt::format("{} ({})", file.tensors().size(), tensor_types_line(file)));
    row("tensor data", fmt::format("{:.1f} MiB", static_cast<double>(tensor_bytes(file)) / kMiB));
    return out;
}

}  // namespace compactor::gguf
