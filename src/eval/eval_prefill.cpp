#include "eval/eval_prefill.h"

#include <memory>
#include <span>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/prompt_format.h"
#include "engine/second_pass.h"
#include "engine/stopwatch.h"
#include "eval/prompt_tokens.h"

namespace compactor::eval {

SampleTokens encode_tokens(const Engine& engine, const Sample& sample, Protocol protocol) {
    SampleTokens tokens;
    // The template is tokenized apart from the document, so its length is
    // that of the prompt around an empty document.
    tokens.n_template = static_cast<int64_t>(
        encode_document_prompt(engine.tokenizer(), engine.chat_template(), "").size());
    if (protocol == Protocol::agnostic) {
        SamplePrompt prompt = encode_sample(engine.tokenizer(), engine.chat_template(), sample);
        tokens.context = std::move(prompt.context);
        tokens.answer_prompt = std::move(prompt.question);
        return tokens;
    }
    tokens.context = encode_document_prompt(engine.tokenizer(), engine.chat_template(), sample.context);
    const std::vector<int32_t> question = engine.tokenizer().encode(sample.question, /*parse_special=*/false);
    tokens.context.insert(tokens.context.end(), question.begin(), question.end());
    tokens.n_protected_question = static_cast<int64_t>(question.size());
    tokens.answer_prompt = encode_turn_end(engine.tokenizer(), engine.chat_template(), "", sample.answer_prefix);
    return tokens;
}

void check_fits(const Sample& sample, const SampleTokens& tokens, int64_t n_ctx) {
    const auto n_prompt = static_cast<int64_t>(tokens.context.size() + tokens.answer_prompt.size());
    if (n_prompt + sample.max_new_tokens <= n_ctx) return;
    throw std::invalid_argument(fmt::format(
        "sample {}: prompt ({} tokens) plus {} answer tokens exceeds the model's context of {} tokens; use a "
        "shorter --lengths",
        sample.id, n_prompt, sample.max_new_tokens, n_ctx));
}

std::set<std::string> methods_to_score(const std::vector<Variant>& variants) {
    std::set<std::string> methods;
    for (const Variant& variant : variants) {
        if (!variant.keeps_whole_cache()) methods.insert(variant.spec.method);
    }
    return methods;
}

Prefill prefill_and_score(const Engine& engine, const CompressionOptions& base, int64_t prefill_chunk,
                          const SampleTokens& tokens, const std::set<std::string>& methods, NextTokenNll* nll) {
    const std::vector<int32_t>& context = tokens.context;
    const ModelShape shape = model_shape(engine.config());
    std::map<std::string, std::unique_ptr<Scorer>> scorers;
    ObserverFanout fanout;
    for (const std::string& method : methods) {
        CompressionOptions options = base;
        options.method = method;
        scorers[method] = make_scorer(options, shape);
        fanout.add(scorers[method].get());
    }

    Prefill prefill;
    prefill.cache = engine.model().make_cache(static_cast<int64_t>(context.size()));
    ForwardOptions forward_options{prefill_chunk, fanout.empty() ? nullptr : &fanout, false};
    forward_options.next_token_nll = nll;
    const Stopwatch prefill_time;
    engine.model().forward(context, prefill.cache, forward_options, nullptr);
    prefill.prefill_s = prefill_time.elapsed_s();

    for (auto& [method, scorer] : scorers) {
        MethodScores& scored = prefill.methods[method];
        if (scorer->needs_second_pass()) {
            // The repetition covers the document (and a query-aware question), not the template.
            const auto document = std::span<const int32_t>(context).subspan(static_cast<size_t>(tokens.n_template));
            scored.second_pass_s = run_second_pass(engine.model(), engine.tokenizer(), engine.chat_template(),
                                                   prefill.cache, *scorer, document);
        }
        const Stopwatch score_time;
        scored.scores = scorer->finalize(prefill.cache);
        scored.score_s = score_time.elapsed_s();
        scorer.reset();
    }
    return prefill;
}

}  // namespace compactor::eval
