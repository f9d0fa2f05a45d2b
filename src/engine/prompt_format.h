// Token sequences of the document prompt and of each question (ChatML; the
// format is documented in include/compactor/engine.h).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {

// BOS (when the tokenizer adds one), the default system turn, the user turn's
// header and the document.
std::vector<int32_t> encode_document_prompt(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                            std::string_view document);

// The rest of the user turn after the document, then the assistant header.
std::vector<int32_t> encode_question_suffix(const Tokenizer& tokenizer, std::string_view question);

}  // namespace compactor
