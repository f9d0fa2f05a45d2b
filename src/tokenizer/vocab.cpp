#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tokenizer/pre_tokenizer.h"

namespace compactor {

namespace {

void check_token_id(const TokenizerVocab& vocab, int32_t id, std::string_view key) {
    if (id == -1) return;
    if (id < 0 || static_cast<size_t>(id) >= vocab.tokens.size()) {
        throw std::invalid_argument(fmt::format("tokenizer: {} is {}, outside the vocabulary of {} tokens",
                                                key, id, vocab.tokens.size()));
    }
}

std::vector<std::string> read_strings(const gguf::GgufFile& file, const std::string& key) {
    const gguf::Array& array = file.get_array(key);
    std::vector<std::string> out;
    out.reserve(array.elements.size());
    for (size_t i = 0; i < array.elements.size(); ++i) {
        if (array.elements[i].type != gguf::ValueType::STRING) {
            throw gguf::GgufError(fmt::format("{}: element {} of {} is not a string", file.path(), i, key));
        }
        out.push_back(array.elements[i].as_string());
    }
    return out;
}

std::vector<int32_t> read_token_types(const gguf::GgufFile& file, size_t n_tokens) {
    const std::string key = "tokenizer.ggml.token_type";
    if (!file.has(key)) {
        spdlog::warn("tokenizer: {} has no {}; every token is taken as normal", file.path(), key);
        return std::vector<int32_t>(n_tokens, kTokenTypeNormal);
    }

    const gguf::Array& array = file.get_array(key);
    std::vector<int32_t> out;
    out.reserve(array.elements.size());
    for (const gguf::Value& element : array.elements) out.push_back(static_cast<int32_t>(element.as_int()));
    return out;
}

int32_t read_token_id(const gguf::GgufFile& file, const std::string& key) {
    const int64_t id = file.get_int_or(key, -1);
    if (id < -1 || id > INT32_MAX) {
        throw gguf::GgufError(fmt::format("{}: {} is {}, not a token id", file.path(), key, id));
    }
    return static_cast<int32_t>(id);
}

int32_t find_token_id(const TokenizerVocab& vocab, std::string_view text) {
    const auto it = std::find(vocab.tokens.begin(), vocab.tokens.end(), text);
    return it == vocab.tokens.end() ? -1 : static_cast<int32_t>(it - vocab.tokens.begin());
}

// End of turn: the explicit key, else the ChatML or Llama 3 end-of-turn token.
int32_t resolve_eot_id(const gguf::GgufFile& file, const TokenizerVocab& vocab) {
    if (file.has("tokenizer.ggml.eot_token_id")) return read_token_id(file, "tokenizer.ggml.eot_token_id");
    if (const int32_t id = find_token_id(vocab, "<|im_end|>"); id >= 0) return id;
    return find_token_id(vocab, "<|eot_id|>");
}

}  // namespace

MergeParts split_merge(std::string_view merge, size_t index) {
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string_view::npos;
    if (space == std::string_view::npos || space + 1 >= merge.size()) {
        throw std::invalid_argument(fmt::format(
            "tokenizer: merge #{} '{}' is malformed; expected two tokens separated by one space", index, merge));
    }
    return {merge.substr(0, space), merge.substr(space + 1)};
}

void validate_vocab(const TokenizerVocab& vocab) {
    if (vocab.model != "gpt2") {
        throw std::invalid_argument(fmt::format(
            "tokenizer: tokenizer model '{}' is not supported; only byte-level BPE ('gpt2') is", vocab.model));
    }
    if (vocab.tokens.empty()) throw std::invalid_argument("tokenizer: the vocabulary has no tokens");
    if (vocab.tokens.size() > static_cast<size_t>(INT32_MAX)) {
        throw std::invalid_argument(fmt::format("tokenizer: {} tokens exceed the int32 id range", vocab.tokens.size()));
    }
    if (vocab.token_types.size() != vocab.tokens.size()) {
        throw std::invalid_argument(fmt::format("tokenizer: {} token types for {} tokens; the counts must be equal",
                                                vocab.token_types.size(), vocab.tokens.size()));
    }

    for (size_t i = 0; i < vocab.token_types.size(); ++i) {
        if (vocab.token_types[i] < 0 || vocab.token_types[i] > kTokenTypeByte) {
            throw std::invalid_argument(fmt::format("tokenizer: token {} '{}' has type {}; valid types are 0 to 6",
                                                    i, vocab.tokens[i], vocab.token_types[i]));
        }
    }

    check_token_id(vocab, vocab.bos_id, "bos id");
    check_token_id(vocab, vocab.eos_id, "eos id");
    check_token_id(vocab, vocab.eot_id, "eot id");
    check_token_id(vocab, vocab.unk_id, "unk id");
    check_token_id(vocab, vocab.pad_id, "pad id");

    for (size_t i = 0; i < vocab.merges.size(); ++i) split_merge(vocab.merges[i], i);

    // Rejects an unknown pre-tokenizer name with the list of supported ones.
    PreTokenizer check(vocab.pre);
}

TokenizerVocab read_vocab(const gguf::GgufFile& file) {
    TokenizerVocab vocab;
    vocab.model = file.get_string("tokenizer.ggml.model");
    if (vocab.model != "gpt2") {
        throw std::runtime_error(fmt::format(
            "{}: tokenizer.ggml.model '{}' is not supported; only byte-level BPE ('gpt2') is", file.path(), vocab.model));
    }

    vocab.pre = file.get_string_or("tokenizer.ggml.pre", "");
    if (vocab.pre.empty()) {
        spdlog::warn("tokenizer: {} has no tokenizer.ggml.pre; using the GPT-2 pre-tokenizer ('default')", file.path());
        vocab.pre = "default";
    }

    vocab.tokens = read_strings(file, "tokenizer.ggml.tokens");
    vocab.token_types = read_token_types(file, vocab.tokens.size());
    vocab.merges = read_strings(file, "tokenizer.ggml.merges");

    vocab.bos_id = read_token_id(file, "tokenizer.ggml.bos_token_id");
    vocab.eos_id = read_token_id(file, "tokenizer.ggml.eos_token_id");
    vocab.unk_id = read_token_id(file, "tokenizer.ggml.unknown_token_id");
    vocab.pad_id = read_token_id(file, "tokenizer.ggml.padding_token_id");
    vocab.eot_id = resolve_eot_id(file, vocab);
    if (const gguf::Value* add_bos = file.find("tokenizer.ggml.add_bos_token")) vocab.add_bos = add_bos->as_bool();

    try {
        validate_vocab(vocab);
    } catch (const std::invalid_argument& error) {
        throw gguf::GgufError(fmt::format("{}: {}", file.path(), error.what()));
    }

    spdlog::info("tokenizer: loaded {} tokens, {} merges, pre-tokenizer '{}' from {}", vocab.tokens.size(),
                 vocab.merges.size(), vocab.pre, file.path());
    return vocab;
}

}  // namespace compactor
