#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "compactor/engine.h"
#include "engine/score_state.h"
#include "engine/stopwatch.h"

namespace compactor {

namespace {

// Hands compress() scores computed earlier, so copies of a session and
// repeated compressions share one finalize().
class StoredScores : public Scorer {
public:
    explicit StoredScores(const ScoreSet& scores) : scores_(scores) {}
    void observe(const LayerChunk&) override {
        throw std::logic_error("StoredScores replays finished scores and cannot observe a prefill");
    }
    ScoreSet finalize(const KvCache& /*cache*/) override { return scores_; }

private:
    const ScoreSet& scores_;
};

// Finalizes the prefill's scorer inside compress(), so compress() times the
// scoring itself, and keeps a copy of the scores for later compressions.
class RecordingScorer : public Scorer {
public:
    RecordingScorer(Scorer& scorer, std::optional<ScoreSet>& record) : scorer_(scorer), record_(record) {}
    void observe(const LayerChunk& chunk) override { scorer_.observe(chunk); }
    ScoreSet finalize(const KvCache& cache) override {
        record_ = scorer_.finalize(cache);
        return *record_;
    }

private:
    Scorer& scorer_;
    std::optional<ScoreSet>& record_;
};

}  // namespace

// The scorer ran with the options given to open_document; compressing with
// other scorer knobs would silently use scores they did not produce.
void check_same_scoring(const CompressionOptions& prefill, const CompressionOptions& now) {
    auto reject = [](const char* name, const std::string& was, const std::string& is) {
        throw std::invalid_argument(fmt::format(
            "compression option {} is {} but the document was prefilled with {}; pass the same value to "
            "open_document and compress (only ratio, budget and head_floor may change)",
            name, is, was));
    };
    if (prefill.method != now.method) reject("method", prefill.method, now.method);
    if (prefill.blend != now.blend) reject("blend", fmt::format("{}", prefill.blend), fmt::format("{}", now.blend));
    if (prefill.sketch_dim != now.sketch_dim) reject("sketch_dim", std::to_string(prefill.sketch_dim), std::to_string(now.sketch_dim));
    if (prefill.attn_chunk != now.attn_chunk) reject("attn_chunk", std::to_string(prefill.attn_chunk), std::to_string(now.attn_chunk));
    if (prefill.sink != now.sink) reject("sink", std::to_string(prefill.sink), std::to_string(now.sink));
    if (prefill.recent != now.recent) reject("recent", std::to_string(prefill.recent), std::to_string(now.recent));
    if (prefill.leverage_window != now.leverage_window) {
        reject("leverage_window", std::to_string(prefill.leverage_window), std::to_string(now.leverage_window));
    }
    if (prefill.value_weighting != now.value_weighting) {
        reject("value_weighting", prefill.value_weighting ? "true" : "false", now.value_weighting ? "true" : "false");
    }
    if (prefill.seed != now.seed) reject("seed", std::to_string(prefill.seed), std::to_string(now.seed));
    if (prefill.window != now.window) reject("window", std::to_string(prefill.window), std::to_string(now.window));
    if (prefill.pool_kernel != now.pool_kernel) {
        reject("pool_kernel", std::to_string(prefill.pool_kernel), std::to_string(now.pool_kernel));
    }
    if (prefill.n_future_positions != now.n_future_positions) {
        reject("n_future_positions", std::to_string(prefill.n_future_positions), std::to_string(now.n_future_positions));
    }
    if (prefill.epsilon != now.epsilon) {
        reject("epsilon", fmt::format("{}", prefill.epsilon), fmt::format("{}", now.epsilon));
    }
}

const ScoreSet* DocumentSession::full_scores() const {
    if (compressed_) {
        throw std::logic_error("scores need the full cache, but this session is compressed; use a full copy");
    }
    std::lock_guard<std::mutex> lock(score_state_->mutex);
    ScoreState& state = *score_state_;
    if (!state.scores && state.scorer) {
        const Stopwatch score_time;
        state.scores = state.scorer->finalize(cache_);
        state.score_s = score_time.elapsed_s();
    }
    return state.scores ? &*state.scores : nullptr;
}

CompressionReport DocumentSession::compress(const CompressionOptions& options) {
    if (compressed_) {
        throw std::logic_error("this session is already compressed; compress a copy of the full session instead");
    }
    validate(options);
    check_same_scoring(scoring_options_, options);

    std::lock_guard<std::mutex> lock(score_state_->mutex);
    ScoreState& state = *score_state_;
    CompressionReport report;
    if (state.scores) {
        StoredScores stored(*state.scores);
        report = compactor::compress(cache_, &stored, options);
        report.score_s = state.score_s;
    } else if (state.scorer) {
        // compress() skips finalize() for a ratio of 0, so scores may stay unset.
        RecordingScorer recording(*state.scorer, state.scores);
        report = compactor::compress(cache_, &recording, options);
        if (state.scores) state.score_s = report.score_s;
    } else {
        report = compactor::compress(cache_, nullptr, options);
    }
    report.second_pass_s = state.second_pass_s;
    compressed_ = true;

    spdlog::debug("engine: compressed {} context tokens with {} at ratio {}: {:.1f} -> {:.1f} MiB, kept {:.4f} "
                  "(scoring {:.3f} s, compaction {:.3f} s)",
                  report.n_tokens, options.method, options.ratio, report.bytes_before / (1024.0 * 1024.0),
                  report.bytes_after / (1024.0 * 1024.0), report.kept_fraction, report.score_s, report.compact_s);
    return report;
}

}  // namespace compactor
