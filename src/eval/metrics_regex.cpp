#define PCRE2_CODE_UNIT_WIDTH 8
#include "eval/metrics_regex.h"

#include <pcre2.h>

#include <array>
#include <stdexcept>

#include <fmt/format.h>

namespace compactor::eval {

namespace {

std::string pcre2_message(int code) {
    std::array<PCRE2_UCHAR, 256> buffer{};
    pcre2_get_error_message(code, buffer.data(), buffer.size());
    return reinterpret_cast<const char*>(buffer.data());
}

// Byte length of the UTF-8 character that starts with `lead`.
size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xE) return 3;
    return 4;
}

}  // namespace

struct UnicodeRegex::Impl {
    std::string pattern;
    pcre2_code* code = nullptr;
};

UnicodeRegex::UnicodeRegex(std::string_view pattern) : impl_(std::make_unique<Impl>()) {
    impl_->pattern = pattern;
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (impl_->code == nullptr) {
        throw std::invalid_argument(fmt::format("metrics: PCRE2 rejected the regex '{}' at offset {}: {}",
                                                pattern, error_offset, pcre2_message(error_code)));
    }
}

UnicodeRegex::~UnicodeRegex() {
    if (impl_) pcre2_code_free(impl_->code);
}

std::vector<std::pair<size_t, size_t>> UnicodeRegex::match_spans(std::string_view text, int group) const {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
        pcre2_match_data_create_from_pattern(impl_->code, nullptr), &pcre2_match_data_free);
    if (!match_data) throw std::bad_alloc();

    std::vector<std::pair<size_t, size_t>> spans;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t offset = 0;
    while (offset <= text.size()) {
        const int rc = pcre2_match(impl_->code, subject, text.size(), offset, 0, match_data.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            throw std::invalid_argument(fmt::format("metrics: matching the regex '{}' failed: {}", impl_->pattern,
                                                    pcre2_message(rc)));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
        if (group < rc && ovector[2 * group] != PCRE2_UNSET) {
            spans.emplace_back(ovector[2 * group], ovector[2 * group + 1]);
        }

        // An empty match moves on by one character, as Python's scanner does.
        const size_t match_end = ovector[1];
        if (match_end == ovector[0]) {
            if (match_end >= text.size()) break;
            offset = match_end + utf8_length(static_cast<unsigned char>(text[match_end]));
        } else {
            offset = match_end;
        }
    }
    return spans;
}

std::vector<std::string> UnicodeRegex::find_all(std::string_view text, int group) const {
    std::vector<std::string> found;
    for (const auto& [begin, end] : match_spans(text, group)) found.emplace_back(text.substr(begin, end - begin));
    return found;
}

std::string UnicodeRegex::replace_all(std::string_view text, std::string_view replacement) const {
    std::string out;
    out.reserve(text.size());
    size_t copied = 0;
    for (const auto& [begin, end] : match_spans(text, 0)) {
        out.append(text.substr(copied, begin - copied));
        out.append(replacement);
        copied = end;
    }
    out.append(text.substr(copied));
    return out;
}

}  // namespace compactor::eval
