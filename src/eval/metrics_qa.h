// LongBench's token F1 for question answering.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace compactor::eval {

// LongBench's normalize_answer: lower-case, drop ASCII punctuation, replace
// the words "a", "an" and "the" by a space, and collapse whitespace.
std::string normalize_answer(std::string_view text);

// F1 of the multiset overlap of two token lists; 0 when nothing overlaps
// (an empty list included).
double token_f1(const std::vector<std::string>& prediction, const std::vector<std::string>& reference);

// LongBench's qa_f1_score: token F1 of the normalized, whitespace-split texts.
double qa_f1_score(std::string_view prediction, std::string_view reference);

}  // namespace compactor::eval
