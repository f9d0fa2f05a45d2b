// ROUGE-L F as LongBench scores summaries: Rouge().get_scores(prediction,
// reference)["rouge-l"]["f"] of the PyPI package `rouge` 1.0.1.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace compactor::eval {

// The package's sentences: the pieces of text.split(".") that are not empty,
// each with its whitespace runs collapsed to one space (a piece of only
// spaces becomes the empty sentence, which still counts as one empty word).
std::vector<std::string> rouge_sentences(std::string_view text);

// Summary-level ROUGE-L F (Lin 2004) the way `rouge` 1.0.1 computes it, with
// words compared case-sensitively:
//   m, n = distinct words of the reference and of the prediction,
//   u = distinct words of the union, over every (reference sentence,
//       prediction sentence) pair, of the words on one longest common
//       subsequence of the pair,
//   F = 2 P R / (P + R + 1e-8) with P = u / n, R = u / m.
// 0 when either text has no sentence (the package raises there and LongBench
// scores 0).
double rouge_l_score(std::string_view prediction, std::string_view reference);

}  // namespace compactor::eval
