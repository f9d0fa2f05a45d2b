// Token sequences of the document prompt and of each question, in the chat
// format of the model's template (the ChatML form is documented in
// include/compactor/engine.h).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {

// BOS (when the tokenizer adds one), the default system turn, the user turn's
// start and the document. The document is not trimmed, unlike message
// contents in Llama 3's template, because it is prefilled as it comes.
std::vector<int32_t> encode_document_prompt(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                            std::string_view document);

// The rest of the user turn after the document, then the assistant's turn start.
std::vector<int32_t> encode_question_suffix(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                            std::string_view question);

// A verbatim end of the user turn, for evaluation prompts that bring their
// own wording: `user_text` (plain text, may be empty), the end of the turn,
// the assistant's turn start, then `answer_prefix` (plain text that the
// answer continues, may be empty).
std::vector<int32_t> encode_turn_end(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                     std::string_view user_text, std::string_view answer_prefix);

}  // namespace compactor
