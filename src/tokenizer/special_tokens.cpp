#include "tokenizer/special_tokens.h"

#include <algorithm>

#include "tokenizer/vocab.h"

namespace compactor {

SpecialTokenMatcher::SpecialTokenMatcher(const TokenizerVocab& vocab) {
    for (size_t i = 0; i < vocab.tokens.size(); ++i) {
        const int32_t type = vocab.token_types[i];
        const bool control = type == kTokenTypeControl || type == kTokenTypeUnknown;
        if ((!control && type != kTokenTypeUserDefined) || vocab.tokens[i].empty()) continue;

        const auto first = static_cast<uint8_t>(vocab.tokens[i][0]);
        by_first_byte_[first].push_back({vocab.tokens[i], static_cast<int32_t>(i), control});
    }

    for (auto& group : by_first_byte_) {
        std::stable_sort(group.begin(), group.end(),
                         [](const Entry& a, const Entry& b) { return a.text.size() > b.text.size(); });
    }
}

const SpecialTokenMatcher::Entry* SpecialTokenMatcher::match_at(std::string_view text, size_t pos,
                                                                bool parse_special) const {
    const auto& group = by_first_byte_[static_cast<uint8_t>(text[pos])];
    for (const Entry& entry : group) {
        if (entry.control && !parse_special) continue;
        if (text.compare(pos, entry.text.size(), entry.text) == 0) return &entry;
    }
    return nullptr;
}

std::vector<TextSegment> SpecialTokenMatcher::split(std::string_view text, bool parse_special) const {
    std::vector<TextSegment> segments;
    size_t plain_start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        const Entry* entry = match_at(text, pos, parse_special);
        if (entry == nullptr) {
            ++pos;
            continue;
        }

        if (pos > plain_start) segments.push_back({text.substr(plain_start, pos - plain_start), -1});
        segments.push_back({text.substr(pos, entry->text.size()), entry->id});
        pos += entry->text.size();
        plain_start = pos;
    }
    if (plain_start < text.size()) segments.push_back({text.substr(plain_start), -1});
    return segments;
}

}  // namespace compactor
