#include "engine/second_pass.h"

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/prompt_format.h"
#include "engine/stopwatch.h"

namespace compactor {

namespace {

// The requests that end the user turn before a repetition, in compactor's
// own wording (kvpress 0.5.4 uses "Repeat the previous context exactly.").
// A piece after the first is cued with the last kCueTokens tokens of the
// piece before it.
constexpr std::string_view kRepeatRequest = "\n\nWrite out the text above again, word for word, without any change.";
constexpr std::string_view kContinueRequest =
    "\n\nWrite out the text above again, word for word, starting right after these words:";
constexpr int64_t kCueTokens = 8;

// Tokens per forward call, as in the context prefill.
constexpr int64_t kRepetitionChunk = 512;

// The full cache must hold every context token in every head: compressing
// before the second pass would leave the repetition nothing to score.
int64_t uncompressed_length(const KvCache& cache) {
    const int64_t n_context = cache.next_pos();
    for (int il = 0; il < cache.n_layer(); ++il) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            if (cache.length(il, h) != n_context) {
                throw std::invalid_argument(fmt::format(
                    "second pass: layer {} head {} of the cache contains {} rows but {} tokens were prefilled; "
                    "run the second pass on the uncompressed cache, before compressing",
                    il, h, cache.length(il, h), n_context));
            }
        }
    }
    return n_context;
}

void append(std::vector<int32_t>& tokens, std::span<const int32_t> more) {
    tokens.insert(tokens.end(), more.begin(), more.end());
}

// The repetition sequences: the request, the end of the user turn and the
// assistant header, then one piece of the document.
struct RepetitionPlan {
    std::vector<std::vector<int32_t>> sequences;
    int64_t piece_tokens = 0;  // document tokens per piece
};

// One piece when the whole repetition fits in the training context after
// the context. Otherwise pieces that each fit, but of at least 1/16 of the
// training context, so a context that nearly fills it is not cut into
// hundreds of pieces.
RepetitionPlan plan_repetition(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                               std::span<const int32_t> document, int64_t n_context, int64_t n_ctx_train) {
    const std::vector<int32_t> turn_end = encode_turn_end(tokenizer, chat_template, "", "");
    const std::vector<int32_t> first_request = tokenizer.encode(kRepeatRequest, /*parse_special=*/false);
    const std::vector<int32_t> next_request = tokenizer.encode(kContinueRequest, /*parse_special=*/false);
    const auto n_document = static_cast<int64_t>(document.size());
    const auto n_overhead =
        static_cast<int64_t>(std::max(first_request.size(), next_request.size() + kCueTokens) + turn_end.size());

    RepetitionPlan plan;
    const int64_t room = n_ctx_train - n_context - n_overhead;
    plan.piece_tokens = n_document <= room ? n_document : std::max(room, std::max<int64_t>(n_ctx_train / 16, 1));

    for (int64_t start = 0; start < n_document; start += plan.piece_tokens) {
        const int64_t length = std::min(plan.piece_tokens, n_document - start);
        std::vector<int32_t> sequence;
        if (start == 0) {
            append(sequence, first_request);
        } else {
            append(sequence, next_request);
            const int64_t cue = std::min(kCueTokens, start);
            append(sequence, document.subspan(static_cast<size_t>(start - cue), static_cast<size_t>(cue)));
        }
        append(sequence, turn_end);
        append(sequence, document.subspan(static_cast<size_t>(start), static_cast<size_t>(length)));
        plan.sequences.push_back(std::move(sequence));
    }
    return plan;
}

}  // namespace

double run_second_pass(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                       const KvCache& full_cache, Scorer& scorer, std::span<const int32_t> context_tokens) {
    if (!scorer.needs_second_pass()) return 0.0;
    if (context_tokens.empty()) {
        throw std::invalid_argument("second pass: no context tokens to repeat; pass the document's tokens");
    }
    const int64_t n_context = uncompressed_length(full_cache);
    const int64_t n_ctx_train = model.config().n_ctx_train;
    const RepetitionPlan plan = plan_repetition(tokenizer, chat_template, context_tokens, n_context, n_ctx_train);

    spdlog::info("second pass: repeating {} document tokens after {} cached tokens, in {} piece(s) of up to {} "
                 "tokens",
                 context_tokens.size(), n_context, plan.sequences.size(), plan.piece_tokens);
    Stopwatch time;
    int64_t n_repeated = 0;
    for (const std::vector<int32_t>& sequence : plan.sequences) {
        const auto n_sequence = static_cast<int64_t>(sequence.size());
        if (n_context + n_sequence > n_ctx_train) {
            spdlog::warn("second pass: the repetition reaches position {}, past the model's training context of {} "
                         "tokens; attention there is less reliable",
                         n_context + n_sequence, n_ctx_train);
        }

        // Each piece starts from the context alone, so its positions stay
        // within n_context + n_sequence. The copy has room for the piece, so
        // appending it does not regrow every head.
        KvCache copy = full_cache.copy_with_room(n_sequence);
        PrefillObserver* observer = scorer.begin_second_pass(copy, n_context);
        if (observer == nullptr) {
            throw std::logic_error("second pass: the scorer needs a second pass but returned no observer for it");
        }
        const ForwardOptions options{kRepetitionChunk, observer, false};
        model.forward(sequence, copy, options, nullptr);
        n_repeated += n_sequence;
    }

    const double seconds = time.elapsed_s();
    spdlog::info("second pass: {} tokens in {:.2f} s ({:.1f} tokens/s)", n_repeated, seconds,
                 static_cast<double>(n_repeated) / seconds);
    return seconds;
}

}  // namespace compactor
