#include "eval/ruler_essay.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace compactor::eval {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_closing(char c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '_';
}

std::string lowercase(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

bool is_editorial_note(std::string_view paragraph) {
    const std::string lower = lowercase(paragraph);
    return lower.find("gutenberg") != std::string::npos || lower.find('@') != std::string::npos ||
           lower.find("http") != std::string::npos || lower.find("www.") != std::string::npos;
}

// True when the word that ends at `end` (exclusive, just before its period)
// is an abbreviation that does not end a sentence.
bool ends_with_abbreviation(std::string_view text, size_t end) {
    static const std::array<std::string_view, 12> abbreviations = {"Mr", "Mrs", "Ms", "Dr", "St", "Mt",
                                                                  "Jr", "Sr", "vs", "etc", "i.e", "e.g"};
    size_t start = end;
    while (start > 0 && !is_space(text[start - 1])) --start;
    const std::string_view word = text.substr(start, end - start);
    return std::find(abbreviations.begin(), abbreviations.end(), word) != abbreviations.end();
}

// Whitespace runs become one space, and leading and trailing whitespace goes.
std::string collapse_whitespace(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool pending_space = false;
    for (const char c : text) {
        if (is_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        out.push_back(c);
    }
    return out;
}

std::vector<std::string> split_words(std::string_view sentence) {
    std::vector<std::string> words;
    size_t start = 0;
    while (start < sentence.size()) {
        size_t end = sentence.find(' ', start);
        if (end == std::string_view::npos) end = sentence.size();
        words.emplace_back(sentence.substr(start, end - start));
        start = end + 1;
    }
    return words;
}

std::string join_words(const std::vector<std::string>& words, size_t begin, size_t end) {
    std::string out;
    for (size_t i = begin; i < end; ++i) {
        if (i > begin) out.push_back(' ');
        out += words[i];
    }
    return out;
}

void append_capped(std::vector<std::string>& sentences, std::string_view sentence, size_t max_words) {
    const std::vector<std::string> words = split_words(sentence);
    size_t begin = 0;
    while (words.size() - begin > max_words) {
        // Prefer a cut after a comma or semicolon in the second half of the piece.
        size_t end = begin + max_words;
        for (size_t i = begin + max_words; i > begin + max_words / 2; --i) {
            const char last = words[i - 1].back();
            if (last == ',' || last == ';' || last == ':') {
                end = i;
                break;
            }
        }
        sentences.push_back(join_words(words, begin, end));
        begin = end;
    }
    if (begin < words.size()) sentences.push_back(join_words(words, begin, words.size()));
}

void split_paragraph(std::string_view paragraph, size_t max_words, std::vector<std::string>& sentences) {
    size_t start = 0;
    size_t i = 0;
    while (i < paragraph.size()) {
        const char c = paragraph[i];
        if (c != '.' && c != '!' && c != '?') {
            ++i;
            continue;
        }

        size_t end = i + 1;
        while (end < paragraph.size() && (paragraph[end] == '.' || paragraph[end] == '!' || paragraph[end] == '?')) ++end;
        while (end < paragraph.size() && is_closing(paragraph[end])) ++end;
        const bool at_break = end == paragraph.size() || paragraph[end] == ' ';
        if (at_break && !(c == '.' && ends_with_abbreviation(paragraph, i))) {
            append_capped(sentences, paragraph.substr(start, end - start), max_words);
            start = end + 1;
        }
        i = end;
    }
    if (start < paragraph.size()) append_capped(sentences, paragraph.substr(start), max_words);
}

}  // namespace

std::string normalize_newlines(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\r') {
            out.push_back(text[i]);
            continue;
        }
        out.push_back('\n');
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    }
    return out;
}

std::string gutenberg_body(std::string_view text) {
    // Markers are whole lines: "*** START OF THE PROJECT GUTENBERG EBOOK ... ***".
    auto find_marker = [&](std::string_view word, size_t from) -> std::pair<size_t, size_t> {
        size_t line_start = from;
        while (line_start < text.size()) {
            size_t line_end = text.find('\n', line_start);
            if (line_end == std::string_view::npos) line_end = text.size();
            std::string_view line = text.substr(line_start, line_end - line_start);
            const size_t text_start = line.find_first_not_of('*');
            if (line.starts_with("***") && text_start != std::string_view::npos) {
                line.remove_prefix(text_start);
                while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
                if (line.starts_with(word)) return {line_start, line_end};
            }
            line_start = line_end + 1;
        }
        return {std::string_view::npos, std::string_view::npos};
    };

    const auto [start_begin, start_end] = find_marker("START OF", 0);
    if (start_begin == std::string_view::npos) return {};
    const auto [end_begin, end_end] = find_marker("END OF", start_end);
    if (end_begin == std::string_view::npos) return {};
    return std::string(text.substr(start_end, end_begin - start_end));
}

std::vector<std::string> split_sentences(std::string_view text, size_t max_words) {
    std::vector<std::string> sentences;
    size_t start = 0;
    while (start < text.size()) {
        // A paragraph ends at a line that holds only whitespace.
        size_t end = start;
        size_t next = text.size();
        while (end < text.size()) {
            size_t line_end = text.find('\n', end);
            if (line_end == std::string_view::npos) {
                end = text.size();
                break;
            }
            size_t after = line_end + 1;
            size_t blank_end = after;
            while (blank_end < text.size() && text[blank_end] != '\n' && is_space(text[blank_end])) ++blank_end;
            if (blank_end < text.size() && text[blank_end] == '\n') {
                end = line_end;
                next = blank_end + 1;
                break;
            }
            end = after;
        }

        const std::string paragraph = collapse_whitespace(text.substr(start, end - start));
        if (!paragraph.empty() && !is_editorial_note(paragraph)) split_paragraph(paragraph, max_words, sentences);
        start = std::max(next, end + 1);
    }
    return sentences;
}

}  // namespace compactor::eval
