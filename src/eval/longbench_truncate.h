// Cutting a sample's text to a target prompt length, as LongBench truncates
// prompts that are too long for the model: the middle goes, the head and the
// tail stay.
#pragma once

#include <cstdint>

#include "eval/sample.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::eval {

struct TruncationResult {
    int64_t n_tokens_before = 0;  // chat prompt tokens (encode_sample) before the cut
    int64_t n_tokens_after = 0;   // after it; equal when nothing was cut
};

// Cut `sample` so its chat prompt, as encode_sample() counts it (system turn
// and answer prefix included, answer tokens not), has at most target_tokens
// tokens. The context loses the middle of its tokens: it keeps the first and
// last halves of what the budget allows, decoded back to text. When the
// question alone would take more than half of the budget, it keeps only its
// last tokens and the context keeps the rest, which is where LongBench's
// single cut through the middle of the whole prompt falls. Throws
// std::invalid_argument when target_tokens cannot hold the chat template's
// own tokens plus two tokens of text.
TruncationResult truncate_middle(Sample& sample, int64_t target_tokens, const Tokenizer& tokenizer,
                                 const ChatTemplate& chat_template);

}  // namespace compactor::eval
