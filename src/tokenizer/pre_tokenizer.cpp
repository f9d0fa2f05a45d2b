#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <array>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace compactor {

namespace {

// Words of GPT-2: English contractions, letters, numbers and other symbols
// each with an optional leading space, and whitespace runs that leave the
// last space to the next word.
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3: case-insensitive contractions, numbers in groups of up to three
// digits, and line breaks kept apart from other whitespace.
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: as Llama 3 but every digit is a word of its own.
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Each numeric character alone (Hugging Face's Digits(individual_digits=true)).
constexpr std::string_view kDigitRegex = R"(\p{N})";

struct PreTokenizerSpec {
    std::string_view name;
    std::vector<std::string_view> regexes;
};

const std::array<PreTokenizerSpec, 5>& specs() {
    static const std::array<PreTokenizerSpec, 5> table = {{
        {"gpt2", {kGpt2Regex}},
        {"default", {kGpt2Regex}},
        {"smollm", {kDigitRegex, kGpt2Regex}},
        {"llama-bpe", {kLlama3Regex}},
        {"qwen2", {kQwen2Regex}},
    }};
    return table;
}

std::string pcre2_message(int code) {
    std::array<PCRE2_UCHAR, 256> buffer{};
    pcre2_get_error_message(code, buffer.data(), buffer.size());
    return reinterpret_cast<const char*>(buffer.data());
}

}  // namespace

// One compiled regex, in UTF and Unicode-property (UCP) mode so \s, \p{L}
// and \p{N} see code points, JIT-compiled where PCRE2 supports it.
class PreTokenizer::Regex {
public:
    explicit Regex(std::string_view pattern) {
        int error_code = 0;
        PCRE2_SIZE error_offset = 0;
        code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
        if (code_ == nullptr) {
            throw std::runtime_error(fmt::format("tokenizer: PCRE2 rejected the regex '{}' at offset {}: {}",
                                                 pattern, error_offset, pcre2_message(error_code)));
        }

        // Without JIT, matching falls back to the interpreter: slower, same results.
        jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
    }
    ~Regex() { pcre2_code_free(code_); }
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Append the words of `text` to `out`: the matches, and the text between
    // matches as words of their own.
    void split(std::string_view text, std::vector<std::string_view>& out) const {
        MatchData match(code_);
        size_t pos = 0;
        size_t unmatched_start = 0;
        while (pos < text.size()) {
            // PCRE2_NO_UTF_CHECK: callers pass valid UTF-8 (the tokenizer repairs it first).
            const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos,
                                       PCRE2_NO_UTF_CHECK, match.data, nullptr);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                throw std::runtime_error(fmt::format("tokenizer: PCRE2 match failed at byte {}: {}", pos,
                                                     pcre2_message(rc)));
            }

            const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
            const size_t start = ovector[0];
            const size_t end = ovector[1];
            if (start > unmatched_start) out.push_back(text.substr(unmatched_start, start - unmatched_start));
            if (end == start) {
                // An empty match cannot advance; step over one character instead.
                pos = next_char(text, start);
                unmatched_start = start;
                continue;
            }
            out.push_back(text.substr(start, end - start));
            pos = end;
            unmatched_start = end;
        }
        if (unmatched_start < text.size()) out.push_back(text.substr(unmatched_start));
    }

    bool jit() const { return jit_; }

private:
    struct MatchData {
        explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
            if (data == nullptr) throw std::bad_alloc();
        }
        ~MatchData() { pcre2_match_data_free(data); }
        MatchData(const MatchData&) = delete;
        MatchData& operator=(const MatchData&) = delete;
        pcre2_match_data* data;
    };

    static size_t next_char(std::string_view text, size_t pos) {
        ++pos;
        while (pos < text.size() && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) ++pos;
        return pos;
    }

    pcre2_code* code_ = nullptr;
    bool jit_ = false;
};

PreTokenizer::PreTokenizer(std::string_view pre) {
    for (const PreTokenizerSpec& spec : specs()) {
        if (spec.name != pre) continue;
        for (std::string_view pattern : spec.regexes) regexes_.push_back(std::make_unique<Regex>(pattern));
        if (!regexes_.back()->jit()) spdlog::info("tokenizer: PCRE2 JIT unavailable, pre-tokenizer '{}' runs interpreted", pre);
        return;
    }
    throw std::invalid_argument(fmt::format("tokenizer: unsupported pre-tokenizer '{}' (tokenizer.ggml.pre); supported: {}",
                                            pre, supported_names()));
}

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
    std::vector<std::string_view> words;
    if (text.empty()) return words;
    words.push_back(text);

    for (const auto& regex : regexes_) {
        std::vector<std::string_view> next;
        next.reserve(words.size() * 2);
        for (std::string_view word : words) regex->split(word, next);
        words = std::move(next);
    }
    return words;
}

std::string PreTokenizer::supported_names() {
    std::string names;
    for (const PreTokenizerSpec& spec : specs()) {
        if (!names.empty()) names += ", ";
        names += spec.name;
    }
    return names;
}

}  // namespace compactor
