// Metrics that look for exact strings or numbers: RULER's string match and
// LongBench's classification, passage count and passage retrieval scores.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace compactor::eval {

// RULER: the share of references that occur in the prediction, compared after
// str.lower() on both sides; 0 without references.
double string_match_all(std::string_view prediction, const std::vector<std::string>& references);

// RULER's QA score: 1 when any reference occurs in the prediction (after
// str.lower()), else 0.
double string_match_any(std::string_view prediction, const std::vector<std::string>& references);

// LongBench's classification_score: the classes that occur in the prediction
// (case-sensitive substrings), minus those that are a strict substring of
// the reference, score 1 / their count when the reference is among them,
// else 0. The removal reproduces LongBench's loop, which removes from the list
// it iterates and so skips the element after each removal.
double classification_score(std::string_view prediction, std::string_view reference,
                            const std::vector<std::string>& all_classes);

// LongBench's count_score: the share of the numbers (runs of Unicode decimal
// digits) in the prediction that equal the reference; 0 without numbers.
double count_score(std::string_view prediction, std::string_view reference);

// LongBench's retrieval_score: as count_score, against N of the first
// "Paragraph N" in the reference; 0 when the reference has none (where
// LongBench's Python raises IndexError).
double retrieval_score(std::string_view prediction, std::string_view reference);

}  // namespace compactor::eval
