#include "eval/metrics_match.h"

#include <algorithm>

#include "eval/metrics_regex.h"
#include "eval/metrics_text.h"
#include "tokenizer/utf8.h"

namespace compactor::eval {

namespace {

const UnicodeRegex& number_regex() {
    static const UnicodeRegex regex(R"(\d+)");
    return regex;
}

// The share of the numbers in `prediction` that equal `expected`.
double share_of_numbers_equal(std::string_view prediction, std::string_view expected) {
    const std::vector<std::string> numbers = number_regex().find_all(replace_invalid_utf8(prediction));
    if (numbers.empty()) return 0.0;
    const auto n_right = std::count(numbers.begin(), numbers.end(), expected);
    return static_cast<double>(n_right) / static_cast<double>(numbers.size());
}

}  // namespace

double string_match_all(std::string_view prediction, const std::vector<std::string>& references) {
    if (references.empty()) return 0.0;
    const std::string lowered = python_lower(prediction);
    double n_found = 0.0;
    for (const std::string& reference : references) {
        if (lowered.find(python_lower(reference)) != std::string::npos) n_found += 1.0;
    }
    return n_found / static_cast<double>(references.size());
}

double string_match_any(std::string_view prediction, const std::vector<std::string>& references) {
    const std::string lowered = python_lower(prediction);
    for (const std::string& reference : references) {
        if (lowered.find(python_lower(reference)) != std::string::npos) return 1.0;
    }
    return 0.0;
}

double classification_score(std::string_view prediction, std::string_view reference,
                            const std::vector<std::string>& all_classes) {
    std::vector<std::string> matches;
    for (const std::string& class_name : all_classes) {
        if (prediction.find(class_name) != std::string_view::npos) matches.push_back(class_name);
    }

    // Python's list iterator keeps its index while list.remove() (which drops
    // the first equal element) shifts the rest left, so the element after a
    // removed one is never examined.
    for (size_t next = 0; next < matches.size();) {
        const std::string term = matches[next];
        ++next;
        if (reference.find(term) != std::string_view::npos && term != reference) {
            matches.erase(std::find(matches.begin(), matches.end(), term));
        }
    }

    if (std::find(matches.begin(), matches.end(), reference) == matches.end()) return 0.0;
    return 1.0 / static_cast<double>(matches.size());
}

double count_score(std::string_view prediction, std::string_view reference) {
    return share_of_numbers_equal(prediction, reference);
}

double retrieval_score(std::string_view prediction, std::string_view reference) {
    static const UnicodeRegex paragraph_regex(R"(Paragraph (\d+))");
    const std::vector<std::string> ids = paragraph_regex.find_all(replace_invalid_utf8(reference), 1);
    if (ids.empty()) return 0.0;
    return share_of_numbers_equal(prediction, ids.front());
}

}  // namespace compactor::eval
