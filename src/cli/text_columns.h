// Word wrapping and two-column layout for terminal output.
#pragma once

#include <string>
#include <vector>

namespace compactor::cli {

// Lines of at most `width` characters, broken at spaces; a word longer than
// the width is cut. Newlines in the text start new lines.
std::vector<std::string> wrap_text(const std::string& text, size_t width);

// Two texts wrapped into columns of `column_width`, joined by " | ", each
// output line prefixed by `indent`.
std::string side_by_side(const std::string& left, const std::string& right, size_t column_width,
                         const std::string& indent);

// Columns of stdout when it is a terminal, else 100.
size_t output_width();

}  // namespace compactor::cli
