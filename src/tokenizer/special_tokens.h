// Finds special tokens written literally in text, so that they are encoded
// whole instead of being split by the pre-tokenizer and BPE.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace compactor {

// A stretch of text: a special token (id >= 0) or plain text to pre-tokenize (id -1).
struct TextSegment {
    std::string_view text;
    int32_t id = -1;
};

class SpecialTokenMatcher {
public:
    // Control and unknown-type tokens match only when encode parses special
    // tokens; user-defined tokens always match, as they are words the BPE
    // merges would not produce.
    explicit SpecialTokenMatcher(const TokenizerVocab& vocab);

    // Split `text` at the special tokens in it, scanning left to right and
    // taking the longest token that starts at each position.
    std::vector<TextSegment> split(std::string_view text, bool parse_special) const;

private:
    struct Entry {
        std::string text;
        int32_t id;
        bool control;  // matched only with parse_special
    };

    // Returns the longest entry that matches at `pos`, or nullptr when none does.
    const Entry* match_at(std::string_view text, size_t pos, bool parse_special) const;

    // Entries grouped by first byte, longest first within a group.
    std::array<std::vector<Entry>, 256> by_first_byte_;
};

}  // namespace compactor
