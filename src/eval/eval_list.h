// Comma-separated option values (--methods, --ratios, --lengths, --tasks).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace compactor::eval {

// The items of "a, b,c" with surrounding whitespace removed; empty items are
// kept (as "") so that callers can reject them with a message.
std::vector<std::string> split_comma_list(std::string_view list);

}  // namespace compactor::eval
