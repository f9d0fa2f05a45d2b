#include "eval/longbench_truncate.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/prompt_format.h"
#include "eval/prompt_tokens.h"
#include "tokenizer/utf8.h"

namespace compactor::eval {

namespace {

// Correction rounds after the first cut: re-tokenizing the joined text can
// merge tokens differently at the seam, so the count may miss the target by a
// few tokens and is cut again by the excess.
constexpr int kMaxRounds = 8;

std::string decode_range(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens, size_t begin, size_t end) {
    return tokenizer.decode(std::vector<int32_t>(tokens.begin() + static_cast<std::ptrdiff_t>(begin),
                                                 tokens.begin() + static_cast<std::ptrdiff_t>(end)));
}

// Continuation bytes that a cut left without their lead byte.
std::string drop_leading_continuation_bytes(std::string text) {
    size_t n = 0;
    while (n < text.size() && n < 3 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) ++n;
    return text.substr(n);
}

// The first head_count and last tail_count tokens, decoded; a character
// split by the cut is dropped instead of becoming U+FFFD.
std::string join_head_tail(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens, size_t keep) {
    const size_t head_count = (keep + 1) / 2;
    const size_t tail_count = keep - head_count;
    std::string head = decode_range(tokenizer, tokens, 0, head_count);
    head.resize(head.size() - incomplete_utf8_tail(head));
    const std::string tail = decode_range(tokenizer, tokens, tokens.size() - tail_count, tokens.size());
    return head + drop_leading_continuation_bytes(tail);
}

std::string keep_tail(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens, size_t keep) {
    return drop_leading_continuation_bytes(decode_range(tokenizer, tokens, tokens.size() - keep, tokens.size()));
}

// encode_sample tokenizes the template pieces and the text separately, so
// the text's tokens sit between the header's and the turn end's.
bool starts_with_tokens(const std::vector<int32_t>& tokens, const std::vector<int32_t>& prefix) {
    return tokens.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), tokens.begin());
}

bool ends_with_tokens(const std::vector<int32_t>& tokens, const std::vector<int32_t>& suffix) {
    return tokens.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), tokens.rbegin());
}

}  // namespace

TruncationResult truncate_middle(Sample& sample, int64_t target_tokens, const Tokenizer& tokenizer,
                                 const ChatTemplate& chat_template) {
    const SamplePrompt prompt = encode_sample(tokenizer, chat_template, sample);
    TruncationResult result{prompt.size(), prompt.size()};
    if (prompt.size() <= target_tokens) return result;

    // The tokens of the chat template around the sample's text, and the
    // text's own tokens, taken from the prompt already encoded.
    const std::vector<int32_t> header = encode_document_prompt(tokenizer, chat_template, "");
    const std::vector<int32_t> turn_end = encode_turn_end(tokenizer, chat_template, "", sample.answer_prefix);
    const auto n_header = static_cast<int64_t>(header.size());
    const auto n_turn_end = static_cast<int64_t>(turn_end.size());
    const std::vector<int32_t> context_tokens =
        starts_with_tokens(prompt.context, header)
            ? std::vector<int32_t>(prompt.context.begin() + n_header, prompt.context.end())
            : tokenizer.encode(sample.context, /*parse_special=*/false);
    const std::vector<int32_t> question_tokens =
        ends_with_tokens(prompt.question, turn_end)
            ? std::vector<int32_t>(prompt.question.begin(), prompt.question.end() - n_turn_end)
            : tokenizer.encode(sample.question, /*parse_special=*/false);
    const auto n_context = static_cast<int64_t>(context_tokens.size());
    const auto n_question = static_cast<int64_t>(question_tokens.size());

    int64_t allowed = target_tokens - n_header - n_turn_end;
    if (allowed < 2) {
        throw std::invalid_argument(fmt::format(
            "sample '{}': target_tokens {} leaves no room for text after the chat template's {} tokens; use at "
            "least {}",
            sample.id, target_tokens, n_header + n_turn_end, n_header + n_turn_end + 2));
    }

    const std::string original_context = sample.context;
    const std::string original_question = sample.question;
    for (int round = 0; round < kMaxRounds && allowed > 0; ++round) {
        // The question stays whole unless it needs more than half of the
        // budget and the context needs the rest.
        const int64_t question_budget = std::min(n_question, std::max(allowed - n_context, allowed / 2));
        const int64_t context_budget = std::min(n_context, allowed - question_budget);

        sample.context = context_budget < n_context
                             ? join_head_tail(tokenizer, context_tokens, static_cast<size_t>(context_budget))
                             : original_context;
        sample.question = question_budget < n_question
                              ? keep_tail(tokenizer, question_tokens, static_cast<size_t>(question_budget))
                              : original_question;

        result.n_tokens_after = encode_sample(tokenizer, chat_template, sample).size();
        if (result.n_tokens_after <= target_tokens) return result;
        allowed -= result.n_tokens_after - target_tokens;
    }
    throw std::runtime_error(fmt::format("sample '{}': cutting the prompt to {} tokens left {} tokens after {} rounds",
                                         sample.id, target_tokens, result.n_tokens_after, kMaxRounds));
}

}  // namespace compactor::eval
