#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace compactor {

namespace {

bool is_printable_byte(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteLevelTables {
    std::array<uint32_t, 256> code_point{};  // byte -> code point
    std::array<int16_t, 324> byte{};         // code point -> byte, -1 when none; 0x143 is the highest

    ByteLevelTables() {
        byte.fill(-1);
        uint32_t next_unprintable = 0x100;
        for (int b = 0; b < 256; ++b) {
            code_point[b] = is_printable_byte(b) ? static_cast<uint32_t>(b) : next_unprintable++;
            byte[code_point[b]] = static_cast<int16_t>(b);
        }
    }
};

const ByteLevelTables& tables() {
    static const ByteLevelTables instance;
    return instance;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else {
        // Every byte-level code point is below U+0800, so two bytes suffice.
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

uint32_t decode_code_point(std::string_view text, size_t pos, size_t length) {
    const auto b0 = static_cast<uint8_t>(text[pos]);
    if (length == 1) return b0;

    uint32_t cp = b0 & (0x7F >> length);
    for (size_t i = 1; i < length; ++i) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
    return cp;
}

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
    const ByteLevelTables& t = tables();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) append_utf8(out, t.code_point[static_cast<uint8_t>(c)]);
    return out;
}

std::optional<uint8_t> byte_level_char_to_byte(uint32_t code_point) {
    const ByteLevelTables& t = tables();
    if (code_point >= t.byte.size() || t.byte[code_point] < 0) return std::nullopt;
    return static_cast<uint8_t>(t.byte[code_point]);
}

std::string byte_level_to_bytes(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t length = utf8_char_length(text, pos);
        if (length == 0) {
            out.push_back(text[pos]);
            ++pos;
            continue;
        }

        const auto byte = byte_level_char_to_byte(decode_code_point(text, pos, length));
        if (byte) {
            out.push_back(static_cast<char>(*byte));
        } else {
            out.append(text.substr(pos, length));
        }
        pos += length;
    }
    return out;
}

}  // namespace compactor
