#include <span>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "compactor/engine.h"
#include "engine/prompt_format.h"
#include "engine/stopwatch.h"

namespace compactor {

namespace {

void check_fits_context(int64_t next_pos, int64_t n_question, int64_t max_tokens, int64_t n_ctx_train) {
    if (next_pos + n_question + max_tokens <= n_ctx_train) return;
    throw std::invalid_argument(fmt::format(
        "document ({} tokens) + question ({} tokens) + max_tokens ({}) exceeds the model's context of {} "
        "tokens; lower max_tokens or shorten the document or question",
        next_pos, n_question, max_tokens, n_ctx_train));
}

}  // namespace

Answer DocumentSession::answer(std::string_view question, const GenerationOptions& options) const {
    if (options.max_tokens <= 0) {
        throw std::invalid_argument(fmt::format("max_tokens must be positive, got {}", options.max_tokens));
    }
    const Tokenizer& tokenizer = engine_->tokenizer();
    const Model& model = engine_->model();
    const std::vector<int32_t> suffix = encode_question_suffix(tokenizer, engine_->chat_template(), question);

    Answer answer;
    answer.n_question_tokens = static_cast<int64_t>(suffix.size());
    check_fits_context(cache_.next_pos(), answer.n_question_tokens, options.max_tokens, engine_->config().n_ctx_train);

    // Decoding appends to a copy, so the session's cache stays unchanged. The
    // copy's room for the question and answer stops an append from regrowing it.
    // TODO: the copy costs O(document) memory and time per question. Attention
    // over the shared document rows plus a private tail would avoid it.
    KvCache cache = cache_.copy_with_room(answer.n_question_tokens + options.max_tokens);

    std::vector<float> logits;
    Stopwatch prefill_time;
    model.forward(suffix, cache, ForwardOptions{}, &logits);
    answer.prefill_s = prefill_time.elapsed_s();

    // Greedy or sampled decoding; the stop token ends the answer and is not
    // part of its text.
    const int32_t eos_id = tokenizer.vocab().eos_id;
    const int32_t eot_id = tokenizer.vocab().eot_id;
    Sampler sampler(options.sampling);
    StreamDecoder decoder(tokenizer);
    Stopwatch decode_time;
    while (true) {
        const int32_t id = sampler.sample(logits);
        ++answer.n_generated_tokens;
        if (id == eot_id) {
            answer.stop_reason = StopReason::eot;
            break;
        }
        if (id == eos_id) {
            answer.stop_reason = StopReason::eos;
            break;
        }
        answer.text += decoder.push(id);
        if (answer.n_generated_tokens >= options.max_tokens) {
            answer.stop_reason = StopReason::max_tokens;
            break;
        }
        model.forward(std::span<const int32_t>(&id, 1), cache, ForwardOptions{}, &logits);
    }
    answer.text += decoder.flush();
    answer.decode_s = decode_time.elapsed_s();

    spdlog::debug("engine: answered in {} tokens ({}), question prefill {:.3f} s, decode {:.3f} s",
                  answer.n_generated_tokens, to_string(answer.stop_reason), answer.prefill_s, answer.decode_s);
    return answer;
}

}  // namespace compactor
