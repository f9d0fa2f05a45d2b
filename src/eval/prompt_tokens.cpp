#include "eval/prompt_tokens.h"

#include "engine/prompt_format.h"

namespace compactor::eval {

SamplePrompt encode_sample(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Sample& sample) {
    SamplePrompt prompt;
    prompt.context = encode_document_prompt(tokenizer, chat_template, sample.context);
    prompt.question = encode_turn_end(tokenizer, chat_template, sample.question, sample.answer_prefix);
    return prompt;
}

int64_t sized_length(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Sample& sample) {
    return encode_sample(tokenizer, chat_template, sample).size() + sample.max_new_tokens;
}

}  // namespace compactor::eval
