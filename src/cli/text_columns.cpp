#include "cli/text_columns.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

namespace compactor::cli {

namespace {

void wrap_paragraph(const std::string& paragraph, size_t width, std::vector<std::string>& lines) {
    std::istringstream words(paragraph);
    std::string line;
    for (std::string word; words >> word;) {
        while (word.size() > width) {
            if (!line.empty()) lines.push_back(std::move(line));
            line.clear();
            lines.push_back(word.substr(0, width));
            word.erase(0, width);
        }
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            lines.push_back(std::move(line));
            line.clear();
        }
        if (!line.empty()) line += ' ';
        line += word;
    }
    if (!line.empty() || lines.empty()) lines.push_back(line);
}

}  // namespace

std::vector<std::string> wrap_text(const std::string& text, size_t width) {
    width = std::max<size_t>(width, 1);
    std::vector<std::string> lines;
    std::istringstream paragraphs(text);
    for (std::string paragraph; std::getline(paragraphs, paragraph);) wrap_paragraph(paragraph, width, lines);
    if (lines.empty()) lines.emplace_back();
    return lines;
}

std::string side_by_side(const std::string& left, const std::string& right, size_t column_width,
                         const std::string& indent) {
    const std::vector<std::string> left_lines = wrap_text(left, column_width);
    const std::vector<std::string> right_lines = wrap_text(right, column_width);
    std::string out;
    for (size_t i = 0; i < std::max(left_lines.size(), right_lines.size()); ++i) {
        std::string left_cell = i < left_lines.size() ? left_lines[i] : "";
        left_cell.resize(column_width, ' ');
        const std::string right_cell = i < right_lines.size() ? right_lines[i] : "";
        out += indent + left_cell + " | " + right_cell + "\n";
    }
    return out;
}

size_t output_width() {
    winsize size{};
    if (isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 40) {
        return size.ws_col;
    }
    return 100;
}

}  // namespace compactor::cli
