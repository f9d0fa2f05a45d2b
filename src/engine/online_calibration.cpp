#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/online_calibration.h"

#include "compactor/engine.h"
#include "engine/prompt_format.h"
#include "engine/score_state.h"
#include "engine/stopwatch.h"
#include "engine/teacher_force.h"
#include "tokenizer/trim.h"

namespace compactor {

namespace {

struct Probe {
    std::vector<int32_t> prompt;  // question suffix: the rest of the user turn and the assistant header
    std::vector<int32_t> answer;  // the quoted span, tokenized as an answer
};

void check_probe_options(const OnlineCalibrationOptions& o, double tau) {
    if (!(tau > 0.0 && tau <= 1.0)) {
        throw std::invalid_argument(fmt::format("quality budget tau is {}; pass a value in (0, 1], such as 0.95", tau));
    }
    if (o.n_probes < 1 || o.cue_tokens < 1 || o.span_tokens < 2) {
        throw std::invalid_argument(fmt::format(
            "online calibration needs n_probes >= 1, cue_tokens >= 1 and span_tokens >= 2, got {}, {} and {}",
            o.n_probes, o.cue_tokens, o.span_tokens));
    }
    if (o.kept_grid.empty()) throw std::invalid_argument("online calibration needs at least one kept fraction to try");
    for (size_t i = 0; i < o.kept_grid.size(); ++i) {
        const double k = o.kept_grid[i];
        if (!(k > 0.0 && k < 1.0) || (i > 0 && k <= o.kept_grid[i - 1])) {
            throw std::invalid_argument(fmt::format(
                "online calibration kept fractions must rise strictly within (0, 1); value {} at index {} does not", k,
                i));
        }
    }
}

// One probe per equal stretch of the document: a span at a seeded offset
// within the stretch, cued by the tokens before it. Stretches exclude the
// prompt template.
std::vector<Probe> make_probes(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                               std::span<const int32_t> prompt_tokens, int64_t n_template,
                               const OnlineCalibrationOptions& o) {
    const auto n_prompt = static_cast<int64_t>(prompt_tokens.size());
    const int64_t first_span = n_template + o.cue_tokens;
    const int64_t last_span = n_prompt - o.span_tokens;  // a span may start here at the latest
    const int64_t stretch = (last_span - first_span + 1) / o.n_probes;
    if (stretch < o.span_tokens) {
        throw std::invalid_argument(fmt::format(
            "the document has {} tokens, too few for {} probes of {} cue and {} span tokens; use fewer probes or "
            "a fixed --ratio",
            n_prompt - n_template, o.n_probes, o.cue_tokens, o.span_tokens));
    }

    std::mt19937_64 rng(o.seed);
    std::vector<Probe> probes;
    for (int i = 0; i < o.n_probes; ++i) {
        // Offsets leave room for the span inside the stretch, so spans never overlap.
        const int64_t offset = static_cast<int64_t>(rng() % static_cast<uint64_t>(stretch - o.span_tokens + 1));
        const int64_t span = first_span + i * stretch + offset;
        const auto at = [&](int64_t pos) { return prompt_tokens.begin() + static_cast<std::ptrdiff_t>(pos); };
        const std::string cue(
            trim_whitespace(tokenizer.decode(std::vector<int32_t>(at(span - o.cue_tokens), at(span)))));
        const std::string quote(
            trim_whitespace(tokenizer.decode(std::vector<int32_t>(at(span), at(span + o.span_tokens)))));
        if (cue.empty() || quote.empty()) continue;  // whitespace only: nothing to quote

        // A short question keeps the probes cheap next to the prefill.
        const std::string question = fmt::format("Quote the text after \"{}\".", cue);
        Probe probe{encode_question_suffix(tokenizer, chat_template, question),
                    tokenizer.encode(quote, /*parse_special=*/false)};
        if (!probe.answer.empty()) probes.push_back(std::move(probe));
    }
    if (probes.empty()) {
        throw std::invalid_argument("the document's probe spans are all whitespace; use a fixed --ratio");
    }
    return probes;
}

// Rows a probe appends to a cache at most: its prompt and all but the last answer token.
int64_t probe_rows(const std::vector<Probe>& probes) {
    size_t rows = 0;
    for (const Probe& probe : probes) rows = std::max(rows, probe.prompt.size() + probe.answer.size() - 1);
    return static_cast<int64_t>(rows);
}

// NLL per answer token of every probe on `cache`. The probes run one after
// another and the cache is rewound after each, so no probe copies it. Give
// the cache room for probe_rows() rows, so no append reallocates it.
double probe_nll(const Model& model, KvCache& cache, const std::vector<Probe>& probes) {
    const int64_t document_end = cache.next_pos();
    double nll_sum = 0;
    int64_t n_tokens = 0;
    for (const Probe& probe : probes) {
        std::array<ForcedRequest, 1> request{ForcedRequest{&cache, probe.prompt, probe.answer}};
        const ForcedNll nll = teacher_force_batch(model, request).front();
        cache.rewind(document_end);
        nll_sum += nll.nll_sum;
        n_tokens += nll.n_tokens;
    }
    return nll_sum / static_cast<double>(n_tokens);
}

// Candidates measured so far, by index into the kept-fraction grid; the
// searches of several budgets share them.
class CandidateMemo {
public:
    CandidateMemo(const Model& model, const KvCache& full_cache, const ScoreSet& scores,
                  const CompressionOptions& options, const std::vector<Probe>& probes, double probe_nll_full,
                  const std::vector<double>& grid)
        : model_(model), full_cache_(full_cache), scores_(scores), options_(options), probes_(probes),
          probe_nll_full_(probe_nll_full), grid_(grid), room_(probe_rows(probes)) {}

    const CalibrationCandidate& measure(size_t index) {
        if (const auto it = measured_.find(index); it != measured_.end()) return it->second;

        const Stopwatch time;
        CalibrationCandidate candidate;
        candidate.kept_fraction = grid_[index];

        CompressionOptions candidate_options = options_;
        candidate_options.ratio = 1.0 - grid_[index];
        CompressedCopy compressed = compressed_copy(full_cache_, scores_, candidate_options, room_);
        candidate.kept_measured = compressed.report.kept_fraction;
        candidate.probe_nll = probe_nll(model_, compressed.cache, probes_);
        candidate.quality_ratio = candidate.probe_nll > 0 ? probe_nll_full_ / candidate.probe_nll : 1.0;
        candidate.seconds = time.elapsed_s();
        spdlog::debug("online calibration: kept {:.3f} (measured {:.3f}): probe NLL {:.4f}, ratio {:.4f}, {:.2f} s",
                      candidate.kept_fraction, candidate.kept_measured, candidate.probe_nll,
                      candidate.quality_ratio, candidate.seconds);
        return measured_.emplace(index, candidate).first->second;
    }

    size_t n_measured() const { return measured_.size(); }

private:
    const Model& model_;
    const KvCache& full_cache_;
    const ScoreSet& scores_;
    const CompressionOptions& options_;
    const std::vector<Probe>& probes_;
    double probe_nll_full_;
    const std::vector<double>& grid_;
    int64_t room_;
    std::map<size_t, CalibrationCandidate> measured_;
};

// Binary search for the smallest passing kept fraction, assuming the ratio
// rises with the kept fraction.
OnlineCalibration search(CandidateMemo& memo, const std::vector<double>& grid, double tau) {
    OnlineCalibration result;
    result.tau = tau;
    size_t low = 0;
    size_t high = grid.size();  // the first index known to pass
    while (low < high) {
        const size_t mid = (low + high) / 2;
        const CalibrationCandidate& candidate = memo.measure(mid);
        if (candidate.quality_ratio >= tau) {
            high = mid;
        } else {
            low = mid + 1;
        }
        result.candidates.push_back(candidate);
    }
    result.kept_fraction = high < grid.size() ? grid[high] : 1.0;
    result.ratio = 1.0 - result.kept_fraction;
    return result;
}

}  // namespace

std::vector<OnlineCalibration> calibrate_online(const Model& model, const Tokenizer& tokenizer,
                                                const ChatTemplate& chat_template, const KvCache& full_cache,
                                                const ScoreSet& scores, std::span<const int32_t> prompt_tokens,
                                                int64_t n_template,
                                                const CompressionOptions& options, std::span<const double> taus,
                                                const OnlineCalibrationOptions& probe_options) {
    for (const double tau : taus) check_probe_options(probe_options, tau);
    validate(options);
    std::vector<OnlineCalibration> results(taus.size());
    for (size_t i = 0; i < taus.size(); ++i) results[i].tau = taus[i];
    // Noise can lift a candidate's ratio to 1, but a budget of 1 allows no
    // loss at all, so such budgets keep everything and cost nothing.
    if (std::all_of(taus.begin(), taus.end(), [](double tau) { return tau >= 1.0; })) return results;

    const Stopwatch total_time;
    const std::vector<Probe> probes = make_probes(tokenizer, chat_template, prompt_tokens, n_template, probe_options);
    int64_t n_probe_tokens = 0;
    for (const Probe& probe : probes) n_probe_tokens += static_cast<int64_t>(probe.answer.size());
    KvCache full_copy = full_cache.copy_with_room(probe_rows(probes));
    const double probe_nll_full = probe_nll(model, full_copy, probes);
    const double setup_s = total_time.elapsed_s();

    CandidateMemo memo(model, full_cache, scores, options, probes, probe_nll_full, probe_options.kept_grid);
    for (OnlineCalibration& result : results) {
        if (result.tau >= 1.0) continue;
        result = search(memo, probe_options.kept_grid, result.tau);
        result.probe_nll_full = probe_nll_full;
        result.n_probes = static_cast<int64_t>(probes.size());
        result.n_probe_tokens = n_probe_tokens;
        // What a call for this budget alone costs; candidates shared with
        // an earlier budget count the time they took when first measured.
        result.seconds = setup_s;
        for (const CalibrationCandidate& candidate : result.candidates) result.seconds += candidate.seconds;
        spdlog::info("online calibration: tau {} -> kept fraction {:.3f} after {} candidates; {} probes, {} answer "
                     "tokens, full-cache probe NLL {:.4f}, {:.2f} s",
                     result.tau, result.kept_fraction, result.candidates.size(), result.n_probes,
                     result.n_probe_tokens, result.probe_nll_full, result.seconds);
    }
    if (taus.size() > 1) {
        spdlog::info("online calibration: {} budgets from {} measured candidates in {:.2f} s", taus.size(),
                     memo.n_measured(), total_time.elapsed_s());
    }
    return results;
}

OnlineCalibration calibrate_online(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                   const KvCache& full_cache, const ScoreSet& scores,
                                   std::span<const int32_t> prompt_tokens, int64_t n_template,
                                   const CompressionOptions& options, double tau,
                                   const OnlineCalibrationOptions& probe_options) {
    const std::array<double, 1> taus{tau};
    return calibrate_online(model, tokenizer, chat_template, full_cache, scores, prompt_tokens, n_template, options,
                            taus, probe_options)
        .front();
}

std::vector<OnlineCalibration> DocumentSession::calibrate_online(const CompressionOptions& options,
                                                                 std::span<const double> taus,
                                                                 const OnlineCalibrationOptions& probe_options) const {
    check_same_scoring(scoring_options_, options);
    if (options.method == "none") {
        throw std::invalid_argument("online calibration needs a compression method, but the method is none");
    }
    if (compressed_) {
        throw std::invalid_argument("online calibration needs the full cache, but this session is compressed");
    }
    const ScoreSet* scores = full_scores();
    if (scores == nullptr) throw std::logic_error("online calibration: the session's scorer produced no scores");
    return compactor::calibrate_online(engine_->model(), engine_->tokenizer(), engine_->chat_template(), cache_,
                                       *scores, *prompt_tokens_, n_template_tokens_, options, taus, probe_options);
}

OnlineCalibration DocumentSession::calibrate_online(const CompressionOptions& options, double tau,
                                                    const OnlineCalibrationOptions& probe_options) const {
    const std::array<double, 1> taus{tau};
    return calibrate_online(options, taus, probe_options).front();
}

}  // namespace compactor
