// Whitespace trimming for prompt and answer text, shared by the chat
// template, the CLI and the evaluation so that all strip the same set.
#pragma once

#include <string_view>

namespace compactor {

// `text` without leading and trailing ASCII whitespace (space, \t, \n, \r,
// \f, \v), the set Jinja's `trim` filter strips. The result views `text`.
inline std::string_view trim_whitespace(std::string_view text) {
    constexpr std::string_view kWhitespace = " \t\n\r\f\v";
    const size_t first = text.find_first_not_of(kWhitespace);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

}  // namespace compactor
