#include "cli/bench_measure.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/second_pass.h"
#include "engine/stopwatch.h"

namespace compactor::cli {

namespace {

struct Prefilled {
    KvCache cache;
    int32_t next_token = 0;  // greedy choice after the last context token
    double seconds = 0;
};

// Greedy: the lowest id among equal maxima.
int32_t argmax(const std::vector<float>& logits) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Prefilled prefill(const Model& model, std::span<const int32_t> tokens, int64_t chunk, PrefillObserver* observer,
                  int64_t reserve_tokens) {
    Prefilled result;
    result.cache = model.make_cache(reserve_tokens);
    std::vector<float> logits;
    const ForwardOptions options{chunk, observer, false};

    const Stopwatch time;
    model.forward(tokens, result.cache, options, &logits);
    result.seconds = time.elapsed_s();

    result.next_token = argmax(logits);
    return result;
}

// Runs n_steps single-token forward passes and returns the seconds taken.
// Each step feeds the greedy choice of the previous one. End-of-turn tokens
// do not stop it, so every run decodes the same count.
double decode_in_place(const Model& model, KvCache& cache, int32_t first_token, int64_t n_steps) {
    std::vector<float> logits;
    int32_t token = first_token;

    const Stopwatch time;
    for (int64_t step = 0; step < n_steps; ++step) {
        model.forward(std::span<const int32_t>(&token, 1), cache, ForwardOptions{}, &logits);
        token = argmax(logits);
    }
    return time.elapsed_s();
}

// Forwards every chunk to a scorer and sums the wall time its observe() takes.
class TimedObserver : public PrefillObserver {
public:
    explicit TimedObserver(PrefillObserver& inner) : inner_(inner) {}
    void observe(const LayerChunk& chunk) override {
        const Stopwatch time;
        inner_.observe(chunk);
        seconds_ += time.elapsed_s();
    }
    double seconds() const { return seconds_; }

private:
    PrefillObserver& inner_;
    double seconds_ = 0;
};

double decode_copy(const Model& model, const KvCache& source, int32_t first_token, int64_t n_steps) {
    KvCache copy = source;
    return decode_in_place(model, copy, first_token, n_steps);
}

}  // namespace

LengthBench::LengthBench(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                         const MeasureSettings& settings)
    : model_(model),
      tokenizer_(tokenizer),
      chat_template_(chat_template),
      settings_(settings),
      shape_(model_shape(model.config())) {}

PeakRss LengthBench::warm_up(std::span<const int32_t> tokens) const {
    const bool reset = reset_peak_rss();
    const auto n_tokens = static_cast<int64_t>(tokens.size());

    const std::unique_ptr<Scorer> scorer = make_scorer(settings_.compression, shape_);
    Prefilled prefilled =
        prefill(model_, tokens, settings_.prefill_chunk, scorer.get(), n_tokens + settings_.decode_tokens);
    run_second_pass(model_, tokenizer_, chat_template_, prefilled.cache, *scorer, tokens);
    compress(prefilled.cache, scorer.get(), settings_.compression);
    decode_in_place(model_, prefilled.cache, prefilled.next_token, settings_.decode_tokens);

    return peak_rss(reset);
}

BenchRun LengthBench::run(std::span<const int32_t> tokens) const {
    BenchRun run;
    const auto n_tokens = static_cast<int64_t>(tokens.size());

    // The scorer's observe() calls are timed directly. A prefill without the
    // scorer also shows what the scorer costs through cache and memory effects.
    if (settings_.measure_no_scorer) {
        run.prefill_no_scorer_s = prefill(model_, tokens, settings_.prefill_chunk, nullptr, n_tokens).seconds;
    }

    const std::unique_ptr<Scorer> scorer = make_scorer(settings_.compression, shape_);
    TimedObserver timed_scorer(*scorer);
    Prefilled prefilled = prefill(model_, tokens, settings_.prefill_chunk, &timed_scorer, n_tokens);
    run.prefill_s = prefilled.seconds;
    run.observe_s = timed_scorer.seconds();
    run.kv_bytes_full = prefilled.cache.size_bytes();
    run.kv_rows_full = prefilled.cache.total_rows();
    run.decode_full_s = decode_copy(model_, prefilled.cache, prefilled.next_token, settings_.decode_tokens);

    run.second_pass_s = run_second_pass(model_, tokenizer_, chat_template_, prefilled.cache, *scorer, tokens);
    const CompressionReport report = compress(prefilled.cache, scorer.get(), settings_.compression);
    run.score_s = report.score_s;
    run.compact_s = report.compact_s;
    run.kv_bytes_compressed = prefilled.cache.size_bytes();
    run.kv_rows_compressed = prefilled.cache.total_rows();
    run.decode_compressed_s = decode_copy(model_, prefilled.cache, prefilled.next_token, settings_.decode_tokens);
    return run;
}

}  // namespace compactor::cli
