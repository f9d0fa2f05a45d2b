#include "eval/metrics_text.h"

#include <locale.h>
#include <wctype.h>

#include <spdlog/spdlog.h>

#include "tokenizer/utf8.h"

namespace compactor::eval {

namespace {

// glibc's C.UTF-8 locale carries the Unicode simple case mappings (glibc 2.36
// and Python 3.11 agree on every code point but U+0130). Without it only
// ASCII letters are lowered.
locale_t unicode_ctype() {
    static const locale_t locale = [] {
        locale_t found = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
        if (found == static_cast<locale_t>(nullptr)) {
            found = newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(nullptr));
        }
        if (found == static_cast<locale_t>(nullptr)) {
            spdlog::warn("metrics: the C.UTF-8 locale is missing, so only ASCII letters are lower-cased");
        }
        return found;
    }();
    return locale;
}

char32_t lower_code_point(char32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
    const locale_t locale = unicode_ctype();
    if (locale == static_cast<locale_t>(nullptr)) return c;
    return static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), locale));
}

// Letters with case (Unicode "Cased"), approximated by having a case mapping
// or a lower/upper class in the locale.
bool is_cased(char32_t c) {
    const locale_t locale = unicode_ctype();
    if (locale == static_cast<locale_t>(nullptr)) return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    const auto w = static_cast<wint_t>(c);
    return iswlower_l(w, locale) || iswupper_l(w, locale) || towlower_l(w, locale) != w ||
           towupper_l(w, locale) != w;
}

// Characters that the final-sigma rule skips over (Unicode "Case_Ignorable").
// NOTE: a subset: apostrophes, periods, colons, middle dots and the
// combining diacritical marks block; Python consults the full property.
bool is_case_ignorable(char32_t c) {
    switch (c) {
        case U'\'': case U'.': case U':': case U'^': case U'`':
        case 0x00A8: case 0x00AD: case 0x00AF: case 0x00B4: case 0x00B7: case 0x00B8:
        case 0x2018: case 0x2019: case 0x2024: case 0x2027:
            return true;
        default:
            return c >= 0x0300 && c <= 0x036F;
    }
}

// Python's rule for U+03A3: final form when a cased letter comes before it
// and none comes after it (skipping case-ignorable characters both ways).
bool is_final_sigma(const std::u32string& text, size_t at) {
    size_t before = at;
    while (before > 0 && is_case_ignorable(text[before - 1])) --before;
    if (before == 0 || !is_cased(text[before - 1])) return false;

    size_t after = at + 1;
    while (after < text.size() && is_case_ignorable(text[after])) ++after;
    return after == text.size() || !is_cased(text[after]);
}

}  // namespace

std::u32string to_code_points(std::string_view text) {
    const std::string valid = replace_invalid_utf8(text);
    std::u32string out;
    out.reserve(valid.size());
    size_t pos = 0;
    while (pos < valid.size()) {
        const auto lead = static_cast<unsigned char>(valid[pos]);
        const size_t length = utf8_char_length(valid, pos);
        char32_t c = 0;
        if (length == 1) {
            c = lead;
        } else if (length == 2) {
            c = lead & 0x1F;
        } else if (length == 3) {
            c = lead & 0x0F;
        } else {
            c = lead & 0x07;
        }
        for (size_t k = 1; k < length; ++k) c = (c << 6) | (static_cast<unsigned char>(valid[pos + k]) & 0x3F);
        out.push_back(c);
        pos += length;
    }
    return out;
}

std::string to_utf8(std::u32string_view code_points) {
    std::string out;
    out.reserve(code_points.size());
    for (char32_t c : code_points) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if (c < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (c >> 12)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (c >> 18)));
            out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

bool is_python_space(char32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    switch (c) {
        case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

std::vector<std::string> split_whitespace(std::string_view text) {
    std::vector<std::string> words;
    std::u32string word;
    for (char32_t c : to_code_points(text)) {
        if (!is_python_space(c)) {
            word.push_back(c);
        } else if (!word.empty()) {
            words.push_back(to_utf8(word));
            word.clear();
        }
    }
    if (!word.empty()) words.push_back(to_utf8(word));
    return words;
}

std::vector<std::string_view> split_on(std::string_view text, char separator) {
    std::vector<std::string_view> pieces;
    size_t start = 0;
    while (true) {
        const size_t found = text.find(separator, start);
        if (found == std::string_view::npos) break;
        pieces.push_back(text.substr(start, found - start));
        start = found + 1;
    }
    pieces.push_back(text.substr(start));
    return pieces;
}

std::string python_lower(std::string_view text) {
    const std::u32string code_points = to_code_points(text);
    std::u32string lowered;
    lowered.reserve(code_points.size());
    for (size_t i = 0; i < code_points.size(); ++i) {
        const char32_t c = code_points[i];
        if (c == 0x0130) {
            lowered.push_back(U'i');
            lowered.push_back(0x0307);
        } else if (c == 0x03A3) {
            lowered.push_back(is_final_sigma(code_points, i) ? 0x03C2 : 0x03C3);
        } else {
            lowered.push_back(lower_code_point(c));
        }
    }
    return to_utf8(lowered);
}

std::string first_line(std::string_view prediction) {
    const size_t start = prediction.find_first_not_of('\n');
    if (start == std::string_view::npos) return {};
    const std::string_view rest = prediction.substr(start);
    return std::string(rest.substr(0, rest.find('\n')));
}

}  // namespace compactor::eval
