// Token sequences of a sample's chat prompt, in the model's tokenizer.
#pragma once

#include <cstdint>
#include <vector>

#include "eval/sample.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::eval {

struct SamplePrompt {
    std::vector<int32_t> context;  // BOS, system turn, user header, sample.context
    std::vector<int32_t> question; // sample.question, end of turn, assistant header, answer prefix
    int64_t size() const { return static_cast<int64_t>(context.size() + question.size()); }
};

SamplePrompt encode_sample(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Sample& sample);

// Prompt tokens plus the answer tokens reserved (max_new_tokens): the length
// a sample is sized to, as RULER counts it.
int64_t sized_length(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Sample& sample);

}  // namespace compactor::eval
