// GPT-2's byte-level alphabet: every byte is written as one printable Unicode
// character, so a BPE vocabulary of such characters covers any byte string.
//
// Printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) represent themselves; the
// other 68 bytes map, in increasing order, to U+0100, U+0101, ... (a space
// becomes U+0120 'Ġ', a newline U+010A 'Ċ').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace compactor {

// The UTF-8 text of the byte-level character that represents each byte of `bytes`.
std::string bytes_to_byte_level(std::string_view bytes);

// The byte that a byte-level character (a Unicode code point) represents; nullopt
// for a code point outside the alphabet.
std::optional<uint8_t> byte_level_char_to_byte(uint32_t code_point);

// The bytes that a byte-level string represents. Characters outside the alphabet
// (or invalid UTF-8) are kept as their own UTF-8 bytes.
std::string byte_level_to_bytes(std::string_view text);

}  // namespace compactor
