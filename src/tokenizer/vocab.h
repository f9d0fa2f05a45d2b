// Checks and helpers for TokenizerVocab shared by the GGUF reader and the
// tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace compactor {

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
inline constexpr int32_t kTokenTypeNormal = 1;
inline constexpr int32_t kTokenTypeUnknown = 2;
inline constexpr int32_t kTokenTypeControl = 3;
inline constexpr int32_t kTokenTypeUserDefined = 4;
inline constexpr int32_t kTokenTypeUnused = 5;
inline constexpr int32_t kTokenTypeByte = 6;

// The two token strings of a merge rule "left right".
struct MergeParts {
    std::string_view left;
    std::string_view right;
};

// Split merge rule number `index` at its separating space. The space is
// searched from the second byte on, so a left part may itself start with a
// space. Throws std::invalid_argument naming the index when the rule has no
// separator or an empty part.
MergeParts split_merge(std::string_view merge, size_t index);

// Throws std::invalid_argument naming the first inconsistency: an unsupported
// model, an empty vocabulary, token and type counts that differ, an unknown
// token type, a special token id out of range, or a malformed merge.
void validate_vocab(const TokenizerVocab& vocab);

}  // namespace compactor
