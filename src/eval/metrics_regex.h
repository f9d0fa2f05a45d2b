// Regular expressions with Python 3 `re` semantics for str patterns: \d, \w
// and \b follow Unicode categories (PCRE2 in UTF and Unicode-property mode).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace compactor::eval {

class UnicodeRegex {
public:
    // Throws std::invalid_argument naming the pattern when PCRE2 rejects it.
    explicit UnicodeRegex(std::string_view pattern);
    ~UnicodeRegex();
    UnicodeRegex(const UnicodeRegex&) = delete;
    UnicodeRegex& operator=(const UnicodeRegex&) = delete;

    // The text of capture group `group` (0: the whole match) of every
    // non-overlapping match, left to right, as re.findall returns them.
    // `text` must be valid UTF-8 (std::invalid_argument otherwise).
    std::vector<std::string> find_all(std::string_view text, int group = 0) const;

    // `text` with every non-overlapping match replaced by `replacement`,
    // taken literally, as re.sub does. `text` must be valid UTF-8.
    std::string replace_all(std::string_view text, std::string_view replacement) const;

private:
    // Byte spans [begin, end) of capture group `group` of each match.
    std::vector<std::pair<size_t, size_t>> match_spans(std::string_view text, int group) const;

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace compactor::eval
