// Pre-tokenization: splits text into the words that BPE then encodes one by
// one, with the regexes that tokenizer.ggml.pre names.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace compactor {

class PreTokenizer {
public:
    // Throws std::invalid_argument naming `pre` and the supported names when
    // `pre` is unknown, std::runtime_error when PCRE2 rejects a regex.
    explicit PreTokenizer(std::string_view pre);
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    // The words of `text` (valid UTF-8), in order; together they cover the
    // text exactly. The views point into `text`.
    std::vector<std::string_view> split(std::string_view text) const;

    // The pre-tokenizer names the constructor accepts, comma-separated.
    static std::string supported_names();

private:
    class Regex;
    // Applied in order: each regex splits every word the previous one made.
    std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace compactor
