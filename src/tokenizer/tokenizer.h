// Byte-level BPE tokenizer as GGUF files describe it (tokenizer.ggml.model = "gpt2").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"

namespace compactor {

// The vocabulary part of a GGUF file's tokenizer.ggml.* metadata.
struct TokenizerVocab {
    std::string model;                 // tokenizer.ggml.model ("gpt2")
    std::string pre;                   // tokenizer.ggml.pre ("smollm", "qwen2", "llama-bpe", ...)
    std::vector<std::string> tokens;   // byte-level encoded token strings, by id
    std::vector<int32_t> token_types;  // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
    std::vector<std::string> merges;   // "left right", in priority order
    int32_t bos_id = -1;
    int32_t eos_id = -1;
    int32_t eot_id = -1;               // end of turn (<|im_end|> for ChatML models), -1 when none
    int32_t unk_id = -1;
    int32_t pad_id = -1;
    bool add_bos = false;              // tokenizer.ggml.add_bos_token
};

// Read tokenizer.ggml.*; throws gguf::GgufError naming a missing or
// inconsistent key, std::runtime_error for an unsupported tokenizer model.
// A missing tokenizer.ggml.pre means "default" (GPT-2's regex). eot_id is
// tokenizer.ggml.eot_token_id when present, else the id of "<|im_end|>", else
// of "<|eot_id|>", else -1.
TokenizerVocab read_vocab(const gguf::GgufFile& file);

class Tokenizer {
public:
    // Throws std::invalid_argument naming the first inconsistency of the
    // vocabulary (see validate_vocab in tokenizer/vocab.h) or an unknown
    // pre-tokenizer.
    explicit Tokenizer(TokenizerVocab vocab);
    ~Tokenizer();

    // Token ids for `text`. With parse_special, control tokens written
    // literally in the text (such as "<|im_start|>") become their ids;
    // otherwise they are tokenized as plain text. User-defined tokens always
    // become their ids. No BOS is added.
    //
    // Invalid UTF-8 is repaired first: each maximal invalid subpart becomes
    // one U+FFFD, exactly as Python's bytes.decode("utf-8", errors="replace")
    // does, so the ids equal those of a Hugging Face tokenizer given that
    // decoded string. Throws std::runtime_error when a byte has no token and
    // the vocabulary has no unknown token to stand in.
    std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;

    // The bytes that a token represents: normal tokens through the byte-level
    // alphabet, <0xXX> byte tokens as their byte, control, user-defined and
    // other tokens as their text. Throws std::out_of_range for a bad id.
    std::string token_bytes(int32_t id) const;
    // The text of a sequence; invalid UTF-8 is kept as the raw bytes.
    std::string decode(const std::vector<int32_t>& ids) const;

    int32_t n_vocab() const;
    const TokenizerVocab& vocab() const;
    bool is_control(int32_t id) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Turns a stream of tokens into text pieces that never split a UTF-8
// character: bytes of an incomplete character wait for the next token.
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
    // Text that is complete after this token (may be empty).
    std::string push(int32_t id);
    // Whatever is still pending (an incomplete character at the end).
    std::string flush();

private:
    const Tokenizer& tokenizer_;
    std::string pending_;
};

}  // namespace compactor
