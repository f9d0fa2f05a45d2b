// Python 3 str operations over UTF-8 text, so metrics score exactly as the
// Python code of LongBench and RULER does. Invalid UTF-8 is first repaired
// to U+FFFD, as a Python decode with errors="replace" would do.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace compactor::eval {

// The code points of `text`.
std::u32string to_code_points(std::string_view text);
std::string to_utf8(std::u32string_view code_points);

// str.isspace(): the Unicode White_Space characters plus U+001C..U+001F.
bool is_python_space(char32_t c);

// str.split() with no argument: the runs of non-space characters.
std::vector<std::string> split_whitespace(std::string_view text);

// str.split(sep) for a one-byte separator: every piece, empty ones included.
std::vector<std::string_view> split_on(std::string_view text, char separator);

// str.lower(): Unicode lower-case mapping, with U+0130 becoming "i" plus
// U+0307 and a word-final capital sigma becoming U+03C2, as Python does.
std::string python_lower(std::string_view text);

// LongBench's post-processing for few-shot tasks:
// prediction.lstrip('\n').split('\n')[0].
std::string first_line(std::string_view prediction);

}  // namespace compactor::eval
