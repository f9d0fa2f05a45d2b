#include "engine/prompt_format.h"

#include <string>

namespace compactor {

namespace {

void append(std::vector<int32_t>& tokens, const std::vector<int32_t>& more) {
    tokens.insert(tokens.end(), more.begin(), more.end());
}

// The end of the user turn and the assistant's turn start, with control tokens.
std::vector<int32_t> encode_assistant_start(const Tokenizer& tokenizer, const ChatTemplate& chat_template) {
    const std::string text = std::string(chat_template.turn_end()) + chat_template.turn_start("assistant");
    return tokenizer.encode(text, /*parse_special=*/true);
}

}  // namespace

std::vector<int32_t> encode_document_prompt(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                            std::string_view document) {
    std::vector<int32_t> tokens;
    const TokenizerVocab& vocab = tokenizer.vocab();
    if (vocab.add_bos && vocab.bos_id >= 0) tokens.push_back(vocab.bos_id);

    // Template text is parsed for control tokens; the document is not, so
    // "<|im_end|>" inside it stays plain text.
    std::string header;
    if (!chat_template.default_system_prompt().empty()) {
        header += chat_template.turn_start("system");
        header += chat_template.default_system_prompt();
        header += chat_template.turn_end();
    }
    header += chat_template.turn_start("user");
    append(tokens, tokenizer.encode(header, /*parse_special=*/true));
    append(tokens, tokenizer.encode(document, /*parse_special=*/false));
    return tokens;
}

std::vector<int32_t> encode_question_suffix(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                            std::string_view question) {
    std::vector<int32_t> tokens = tokenizer.encode("\n\nQuestion: ", /*parse_special=*/false);
    append(tokens, tokenizer.encode(question, /*parse_special=*/false));
    append(tokens, tokenizer.encode("\nAnswer briefly.", /*parse_special=*/false));
    append(tokens, encode_assistant_start(tokenizer, chat_template));
    return tokens;
}

std::vector<int32_t> encode_turn_end(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                     std::string_view user_text, std::string_view answer_prefix) {
    std::vector<int32_t> tokens = tokenizer.encode(user_text, /*parse_special=*/false);
    append(tokens, encode_assistant_start(tokenizer, chat_template));
    append(tokens, tokenizer.encode(answer_prefix, /*parse_special=*/false));
    return tokens;
}

}  // namespace compactor
