// Public-domain prose cut into sentences, the "essay" haystack of the needle
// tasks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace compactor::eval {

// CRLF and lone CR become LF.
std::string normalize_newlines(std::string_view text);

// The text between the "*** START OF" and "*** END OF" marker lines of a
// Project Gutenberg file (the markers may lack the space after the stars).
// Returns an empty string when either marker is missing.
std::string gutenberg_body(std::string_view text);

// Sentences of a prose text: paragraphs are separated by blank lines, and
// whitespace inside a paragraph collapses to single spaces. A sentence ends
// after '.', '!' or '?' (and any closing quotes or brackets) followed by a
// space, unless the word is a common abbreviation such as "Mr.", or at the
// end of its paragraph, so a heading is a sentence of its own. A sentence of
// more than max_words words is cut into pieces of at most max_words words,
// after a comma or semicolon where one falls in the second half of a piece,
// so that no piece is coarser than the sizing needs. Paragraphs that mention
// Project Gutenberg, an e-mail address or a web address are editorial notes
// and are left out.
std::vector<std::string> split_sentences(std::string_view text, size_t max_words);

}  // namespace compactor::eval
