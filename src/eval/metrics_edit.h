// Edit similarity of code as LongBench scores code completion
// (code_sim_score: fuzzywuzzy 0.18.0's fuzz.ratio of the first code line).
#pragma once

#include <string>
#include <string_view>

namespace compactor::eval {

// difflib.SequenceMatcher(None, a, b).ratio() over code points: 2 M / (|a| +
// |b|), M being the characters in the matching blocks that the
// Ratcliff-Obershelp recursion finds (longest block first, earliest in a,
// then in b), with difflib's default autojunk: when b has 200 or more
// characters, those occurring more than |b| / 100 + 1 times cannot start a
// block. 1 when both are empty.
double sequence_matcher_ratio(std::u32string_view a, std::u32string_view b);

// fuzz.ratio(a, b) / 100 with fuzzywuzzy's pure-Python fallback, which a
// plain `pip install fuzzywuzzy` gets (python-Levenshtein is an optional
// extra; with it, the ratio is 2 LCS / (|a| + |b|) instead): 1 for
// equal strings (both empty included), 0 when one is empty, else
// round(100 · sequence_matcher_ratio) / 100 with ties to even.
double fuzz_ratio(std::string_view a, std::string_view b);

// LongBench's code_sim_score: the first line of the prediction (after
// leading newlines) that contains none of "`", "#" and "//", or "" when no
// line qualifies, scored with fuzz_ratio against the reference.
double code_sim_score(std::string_view prediction, std::string_view reference);

}  // namespace compactor::eval
