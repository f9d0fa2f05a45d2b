#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <span>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "compactor/engine.h"
#include "engine/prompt_format.h"
#include "engine/score_state.h"
#include "engine/second_pass.h"
#include "engine/stopwatch.h"
#include "gguf/dequant.h"

namespace compactor {

namespace {

bool is_blank(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

void check_document_options(const DocumentOptions& options) {
    if (options.prefill_chunk <= 0) {
        throw std::invalid_argument(fmt::format("prefill_chunk must be a positive token count, got {}", options.prefill_chunk));
    }
    if (options.nll_stride < 0) {
        throw std::invalid_argument(fmt::format(
            "nll_stride must be >= 0 (0 skips the context NLL), got {}", options.nll_stride));
    }
    if (options.answer_reserve < 0) {
        throw std::invalid_argument(fmt::format("answer_reserve must be >= 0 tokens, got {}", options.answer_reserve));
    }
    validate(options.compression);
}

void check_fits_context(int64_t n_prompt, int64_t answer_reserve, int64_t n_ctx_train) {
    if (n_prompt + answer_reserve <= n_ctx_train) return;
    if (answer_reserve >= n_ctx_train) {
        throw std::invalid_argument(fmt::format(
            "{} tokens reserved for the question and answer leave no room for the document in the model's "
            "context of {} tokens; generate fewer tokens per answer (--max-tokens)",
            answer_reserve, n_ctx_train));
    }
    throw std::invalid_argument(fmt::format(
        "document prompt is {} tokens; with {} tokens reserved for the question and answer it exceeds the "
        "model's context of {} tokens; shorten the document to at most {} tokens, split it, or generate fewer "
        "tokens per answer (--max-tokens)",
        n_prompt, answer_reserve, n_ctx_train, n_ctx_train - answer_reserve));
}

// The model's shape with its RoPE frequency divisors (rope_freqs.weight,
// Llama 3.1 and later), which scorers that rotate statistics need.
ModelShape model_shape_of(const Model& model) {
    ModelShape shape = model_shape(model.config());
    if (model.config().has_rope_freqs) {
        const gguf::TensorInfo& freqs = model.file().tensor("rope_freqs.weight");
        shape.rope_freq_divisors.resize(static_cast<size_t>(freqs.n_elements()));
        gguf::dequantize(freqs.type, freqs.data, shape.rope_freq_divisors.data(), freqs.n_elements());
    }
    return shape;
}

}  // namespace

DocumentSession Engine::open_document(std::string_view document, const DocumentOptions& options) const {
    if (is_blank(document)) {
        throw std::invalid_argument("document is empty; pass a text file with content");
    }
    check_document_options(options);

    auto prompt_tokens =
        std::make_shared<const std::vector<int32_t>>(encode_document_prompt(*tokenizer_, chat_template_, document));
    const std::vector<int32_t>& tokens = *prompt_tokens;
    const auto n_prompt = static_cast<int64_t>(tokens.size());
    check_fits_context(n_prompt, options.answer_reserve, config().n_ctx_train);

    DocumentSession session;
    session.engine_ = this;
    session.scoring_options_ = options.compression;
    session.n_context_tokens_ = n_prompt;
    // The template is tokenized apart from the document, so its length is
    // that of the prompt around an empty document.
    session.n_template_tokens_ =
        static_cast<int64_t>(encode_document_prompt(*tokenizer_, chat_template_, "").size());
    session.prompt_tokens_ = prompt_tokens;
    session.score_state_ = std::make_shared<DocumentSession::ScoreState>();
    const ModelShape shape = model_shape_of(*model_);
    session.score_state_->scorer = make_scorer(options.compression, shape);
    session.cache_ = model_->make_cache(n_prompt);

    // One forward call per chunk, so progress is reported between chunks;
    // the scorer observes every layer of every chunk.
    spdlog::info("engine: prefilling {} document prompt tokens in chunks of {} (scorer: {})", n_prompt,
                 options.prefill_chunk, options.compression.method);
    // The NLL skips the template and each chunk's last position, whose
    // target is in the next call (never selected when the stride divides
    // prefill_chunk).
    NextTokenNll nll{options.nll_stride, session.n_template_tokens_};
    ForwardOptions forward_options{options.prefill_chunk, session.score_state_->scorer.get(), false};
    forward_options.next_token_nll = options.nll_stride > 0 ? &nll : nullptr;
    const std::span<const int32_t> all_tokens(tokens);
    Stopwatch prefill_time;
    for (int64_t pos = 0; pos < n_prompt; pos += options.prefill_chunk) {
        const int64_t n_chunk = std::min(options.prefill_chunk, n_prompt - pos);
        model_->forward(all_tokens.subspan(static_cast<size_t>(pos), static_cast<size_t>(n_chunk)), session.cache_,
                        forward_options, nullptr);
        if (options.on_progress) options.on_progress({pos + n_chunk, n_prompt, prefill_time.elapsed_s()});
    }
    session.prefill_s_ = prefill_time.elapsed_s();
    session.context_nll_ = options.nll_stride > 0 ? nll.mean() : std::nan("");
    session.n_nll_tokens_ = nll.n_scored;

    spdlog::info("engine: prefilled {} tokens in {:.2f} s ({:.1f} tokens/s), KV cache {:.1f} MiB", n_prompt,
                 session.prefill_s_, n_prompt / session.prefill_s_, session.cache_.size_bytes() / (1024.0 * 1024.0));
    if (options.nll_stride > 0) {
        spdlog::info("engine: context NLL {:.4f} nats/token over {} document tokens (stride {})",
                     session.context_nll_, nll.n_scored, options.nll_stride);
    }

    // KVzip: the model repeats the document (the prompt's last tokens, after
    // the system turn and user header) on a copy of the cache.
    Scorer* scorer = session.score_state_->scorer.get();
    if (scorer != nullptr && scorer->needs_second_pass()) {
        const std::vector<int32_t> document_tokens = tokenizer_->encode(document, /*parse_special=*/false);
        session.score_state_->second_pass_s =
            run_second_pass(*model_, *tokenizer_, chat_template_, session.cache_, *scorer, document_tokens);
    }
    return session;
}

}  // namespace compactor
