#include "eval/metrics_qa.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "eval/metrics_regex.h"
#include "eval/metrics_text.h"

namespace compactor::eval {

namespace {

// Python's string.punctuation.
constexpr std::string_view kAsciiPunctuation = R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)";

std::string remove_ascii_punctuation(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (kAsciiPunctuation.find(c) == std::string_view::npos) out.push_back(c);
    }
    return out;
}

std::string join_words(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& word : words) {
        if (!out.empty()) out.push_back(' ');
        out += word;
    }
    return out;
}

}  // namespace

std::string normalize_answer(std::string_view text) {
    // \b and the word characters around it are Unicode-aware, so "théâtre"
    // keeps its "th" while "the" alone goes.
    static const UnicodeRegex articles(R"(\b(a|an|the)\b)");

    const std::string lowered = python_lower(text);
    const std::string no_punctuation = remove_ascii_punctuation(lowered);
    const std::string no_articles = articles.replace_all(no_punctuation, " ");
    return join_words(split_whitespace(no_articles));
}

double token_f1(const std::vector<std::string>& prediction, const std::vector<std::string>& reference) {
    std::unordered_map<std::string_view, int64_t> reference_counts;
    for (const std::string& token : reference) ++reference_counts[token];

    int64_t n_same = 0;
    for (const std::string& token : prediction) {
        auto found = reference_counts.find(token);
        if (found != reference_counts.end() && found->second > 0) {
            --found->second;
            ++n_same;
        }
    }
    if (n_same == 0) return 0.0;

    // Same operation order as LongBench's Python, so the doubles agree bit for bit.
    const double precision = 1.0 * static_cast<double>(n_same) / static_cast<double>(prediction.size());
    const double recall = 1.0 * static_cast<double>(n_same) / static_cast<double>(reference.size());
    return (2 * precision * recall) / (precision + recall);
}

double qa_f1_score(std::string_view prediction, std::string_view reference) {
    return token_f1(split_whitespace(normalize_answer(prediction)), split_whitespace(normalize_answer(reference)));
}

}  // namespace compactor::eval
