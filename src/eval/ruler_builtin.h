// Built-in words and filler text, so that the tasks that need no data files
// (niah_single_1, niah_multikey_2, niah_multikey_3, vt, cwe, fwe) run without
// an evaluation data folder.
#pragma once

#include <string>
#include <vector>

namespace compactor::eval {

// Plain lowercase words, none a substring of another across the three lists.
const std::vector<std::string>& builtin_adjectives();
const std::vector<std::string>& builtin_nouns();
const std::vector<std::string>& builtin_verbs();

// One line of the noise haystack: five short filler sentences. The haystack
// repeats this line, which carries no information a question could request.
const std::string& noise_line();

}  // namespace compactor::eval
