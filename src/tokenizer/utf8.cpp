#include "tokenizer/utf8.h"

#include <algorithm>
#include <cstdint>

namespace compactor {

namespace {

// Constraints a lead byte sets: the sequence length and the allowed range of
// the second byte (the range excludes overlong forms, surrogates and code
// points above U+10FFFF). Later continuation bytes are always 0x80..0xBF.
struct LeadByte {
    size_t length = 0;  // 0 for a byte that cannot start a character
    uint8_t second_min = 0x80;
    uint8_t second_max = 0xBF;
};

LeadByte classify_lead(uint8_t b) {
    if (b < 0x80) return {1, 0, 0};
    if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {};
}

bool continuation_fits(const LeadByte& lead, size_t index, uint8_t b) {
    if (index == 1) return b >= lead.second_min && b <= lead.second_max;
    return b >= 0x80 && b <= 0xBF;
}

// Bytes from `pos` that belong to one character or one maximal subpart
// (at least 1), and whether they form a whole character.
struct Scan {
    size_t length = 1;
    bool complete = false;
};

Scan scan_char(std::string_view text, size_t pos) {
    const LeadByte lead = classify_lead(static_cast<uint8_t>(text[pos]));
    if (lead.length == 0) return {1, false};

    size_t matched = 1;
    while (matched < lead.length && pos + matched < text.size() &&
           continuation_fits(lead, matched, static_cast<uint8_t>(text[pos + matched]))) {
        ++matched;
    }
    return {matched, matched == lead.length};
}

}  // namespace

size_t utf8_char_length(std::string_view text, size_t pos) {
    if (pos >= text.size()) return 0;
    const Scan scan = scan_char(text, pos);
    return scan.complete ? scan.length : 0;
}

std::string replace_invalid_utf8(std::string_view text) {
    static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        const Scan scan = scan_char(text, pos);
        if (scan.complete) {
            out.append(text.substr(pos, scan.length));
        } else {
            out.append(kReplacement);
        }
        pos += scan.length;
    }
    return out;
}

size_t incomplete_utf8_tail(std::string_view text) {
    // A character has at most 4 bytes, so an unfinished one starts within the
    // last 3 bytes.
    const size_t window = std::min<size_t>(3, text.size());
    for (size_t back = 1; back <= window; ++back) {
        const size_t pos = text.size() - back;
        const auto b = static_cast<uint8_t>(text[pos]);
        if (b >= 0x80 && b <= 0xBF) continue;

        const Scan scan = scan_char(text, pos);
        const bool unfinished = !scan.complete && pos + scan.length == text.size() &&
                                classify_lead(b).length > back;
        return unfinished ? back : 0;
    }
    return 0;
}

}  // namespace compactor
