// UTF-8 validation and repair, following the Unicode Standard's table of
// well-formed byte sequences (Table 3-7).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace compactor {

// Length in bytes of the well-formed character at `pos`, or 0 when the bytes
// there do not start one (invalid lead byte, bad or missing continuation).
size_t utf8_char_length(std::string_view text, size_t pos);

// Copy of `text` with each maximal invalid subpart replaced by one U+FFFD, as
// Python's bytes.decode("utf-8", errors="replace") and the Unicode Standard's
// recommended practice do: a lead byte followed by valid continuation bytes of
// a character that then breaks off counts as one subpart, and any other
// invalid byte counts alone.
std::string replace_invalid_utf8(std::string_view text);

// Number of bytes at the end of `text` that form the start of a well-formed
// character still missing continuation bytes (0 to 3); 0 when the text ends on
// a whole character or on bytes that can never become one.
size_t incomplete_utf8_tail(std::string_view text);

}  // namespace compactor
