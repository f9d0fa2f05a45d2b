#include "tokenizer/tokenizer.h"

#include <stdexcept>

#include <fmt/format.h>

#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace compactor {

namespace {

const TokenizerVocab& validated(const TokenizerVocab& vocab) {
    validate_vocab(vocab);
    return vocab;
}

// The byte of a "<0xXX>" token text, or -1 when the text has another form.
int parse_hex_byte_token(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    int value = 0;
    for (char c : text.substr(3, 2)) {
        value *= 16;
        if (c >= '0' && c <= '9') {
            value += c - '0';
        } else if (c >= 'A' && c <= 'F') {
            value += c - 'A' + 10;
        } else if (c >= 'a' && c <= 'f') {
            value += c - 'a' + 10;
        } else {
            return -1;
        }
    }
    return value;
}

}  // namespace

struct Tokenizer::Impl {
    explicit Impl(TokenizerVocab v)
        : vocab(std::move(v)), pre_tokenizer(validated(vocab).pre), specials(vocab), bpe(vocab) {}

    void encode_plain(std::string_view text, std::vector<int32_t>& ids) const {
        for (std::string_view word : pre_tokenizer.split(text)) {
            const std::vector<int32_t> word_ids = bpe.encode_word(bytes_to_byte_level(word));
            ids.insert(ids.end(), word_ids.begin(), word_ids.end());
        }
    }

    TokenizerVocab vocab;
    PreTokenizer pre_tokenizer;
    SpecialTokenMatcher specials;
    BpeModel bpe;
};

Tokenizer::Tokenizer(TokenizerVocab vocab) : impl_(std::make_unique<Impl>(std::move(vocab))) {}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
    const std::string repaired = replace_invalid_utf8(text);

    std::vector<int32_t> ids;
    ids.reserve(repaired.size() / 3);
    for (const TextSegment& segment : impl_->specials.split(repaired, parse_special)) {
        if (segment.id >= 0) {
            ids.push_back(segment.id);
        } else {
            impl_->encode_plain(segment.text, ids);
        }
    }
    return ids;
}

std::string Tokenizer::token_bytes(int32_t id) const {
    if (id < 0 || id >= n_vocab()) {
        throw std::out_of_range(fmt::format("tokenizer: token id {} is outside the vocabulary [0, {})", id, n_vocab()));
    }

    const std::string& text = impl_->vocab.tokens[id];
    switch (impl_->vocab.token_types[id]) {
    case kTokenTypeNormal:
        return byte_level_to_bytes(text);
    case kTokenTypeByte:
        if (const int byte = parse_hex_byte_token(text); byte >= 0) return std::string(1, static_cast<char>(byte));
        return byte_level_to_bytes(text);
    default:
        return text;
    }
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string text;
    for (int32_t id : ids) text += token_bytes(id);
    return text;
}

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->vocab.tokens.size()); }

const TokenizerVocab& Tokenizer::vocab() const { return impl_->vocab; }

bool Tokenizer::is_control(int32_t id) const {
    return id >= 0 && id < n_vocab() && impl_->vocab.token_types[id] == kTokenTypeControl;
}

std::string StreamDecoder::push(int32_t id) {
    pending_ += tokenizer_.token_bytes(id);

    const size_t ready = pending_.size() - incomplete_utf8_tail(pending_);
    std::string out = pending_.substr(0, ready);
    pending_.erase(0, ready);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    out.swap(pending_);
    return out;
}

}  // namespace compactor
