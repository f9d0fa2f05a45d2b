#include "eval/eval_sample_run.h"

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "calibrate/fitted_choice.h"
#include "engine/batch_generate.h"
#include "engine/online_calibration.h"
#include "engine/prompt_format.h"
#include "engine/stopwatch.h"
#include "eval/eval_kept_rows.h"
#include "eval/eval_prefill.h"
#include "eval/eval_results.h"
#include "eval/metrics.h"
#include "eval/prompt_tokens.h"
#include "eval/runner.h"
#include "tokenizer/utf8.h"

namespace compactor::eval {

namespace {

using nlohmann::json;

// The ratio a quality-budget variant chose for this sample, with its inputs.
struct QualityOutcome {
    double ratio = 0;
    double b = 0;                            // fitted: α · context NLL + β
    double alpha = 0;                        // fitted: the calibration's α and β
    double beta = 0;
    std::optional<OnlineCalibration> online; // online: the candidates tried
    double seconds = 0;
};

// One variant's compression and where its answer comes from.
struct Outcome {
    CompressionReport report;
    uint64_t kept_hash = 0;
    std::optional<size_t> reuses;          // index of the outcome whose answer this one shares
    const json* earlier_line = nullptr;    // or a line of an earlier invocation with the same kept rows
    std::optional<QualityOutcome> quality; // quality-budget variants only
    std::optional<Generation> generation;  // set when this outcome generated its own answer
    double score = 0;
};

// Caches and requests of the variants that generate, answered in groups of
// at most max_batch so that only one group's copies exist at a time.
class AnswerGroups {
public:
    AnswerGroups(const Engine& engine, const Sample& sample, const std::vector<int32_t>& answer_prompt,
                 int64_t max_batch, std::vector<Outcome>& outcomes)
        : engine_(engine), sample_(sample), answer_prompt_(answer_prompt), max_batch_(max_batch), outcomes_(outcomes) {}

    void add(size_t outcome, KvCache cache) {
        caches_.push_back(std::make_unique<KvCache>(std::move(cache)));
        owners_.push_back(outcome);
        if (static_cast<int64_t>(owners_.size()) >= max_batch_) flush();
    }

    void flush() {
        if (owners_.empty()) return;
        std::vector<GenerationRequest> requests;
        for (const std::unique_ptr<KvCache>& cache : caches_) {
            requests.push_back({cache.get(), answer_prompt_, sample_.max_new_tokens});
        }
        std::vector<Generation> generations =
            generate_batch(engine_.model(), engine_.tokenizer(), requests, max_batch_);
        for (size_t i = 0; i < owners_.size(); ++i) {
            Outcome& outcome = outcomes_[owners_[i]];
            outcome.score = score_prediction(sample_, generations[i].text);
            outcome.generation = std::move(generations[i]);
        }
        n_generations_ += static_cast<int64_t>(owners_.size());
        caches_.clear();
        owners_.clear();
    }

    int64_t n_generations() const { return n_generations_; }

private:
    const Engine& engine_;
    const Sample& sample_;
    const std::vector<int32_t>& answer_prompt_;
    int64_t max_batch_;
    std::vector<Outcome>& outcomes_;
    std::vector<std::unique_ptr<KvCache>> caches_;
    std::vector<size_t> owners_;
    int64_t n_generations_ = 0;
};

CompressionOptions variant_options(const CompressionOptions& base, const Variant& variant) {
    CompressionOptions options = base;
    options.method = variant.spec.method;
    options.budget = variant.spec.budget;
    options.ratio = variant.ratio;
    return options;
}

// Online calibrations of this sample, indexed like `variants`: one search
// per method and budget over all its τ, so each kept fraction is measured
// once per sample.
std::vector<std::optional<OnlineCalibration>> calibrate_online_variants(const Engine& engine,
                                                                        const EvalOptions& options,
                                                                        const CompressionOptions& base,
                                                                        const SampleTokens& tokens,
                                                                        const Prefill& prefill,
                                                                        const std::vector<Variant>& variants) {
    std::map<std::string, std::vector<size_t>> by_method;
    for (size_t i = 0; i < variants.size(); ++i) {
        if (variants[i].has_quality() && variants[i].calibration == CalibrationKind::online) {
            by_method[variants[i].spec.label()].push_back(i);
        }
    }
    std::vector<std::optional<OnlineCalibration>> online(variants.size());
    for (const auto& [label, indices] : by_method) {
        std::vector<double> taus;
        for (const size_t i : indices) taus.push_back(variants[i].quality);
        const Variant& first = variants[indices.front()];
        std::vector<OnlineCalibration> results =
            calibrate_online(engine.model(), engine.tokenizer(), engine.chat_template(), prefill.cache,
                             prefill.methods.at(first.spec.method).scores, tokens.context, tokens.n_template,
                             variant_options(base, first), taus, options.online);
        for (size_t j = 0; j < indices.size(); ++j) online[indices[j]] = std::move(results[j]);
    }
    return online;
}

// The ratio for a quality-budget variant on this sample: from the method's
// fitted calibration and the context NLL, or from its online search.
QualityOutcome choose_quality_ratio(const EvalOptions& options, double context_nll, const Variant& variant,
                                    const std::optional<OnlineCalibration>& online) {
    const Stopwatch time;
    QualityOutcome outcome;
    if (variant.calibration == CalibrationKind::fitted) {
        const auto it = options.calibrations.find(variant.spec.label());
        if (it == options.calibrations.end()) {
            throw std::invalid_argument(fmt::format("no fitted calibration for {}; pass --calibration FILE for it",
                                                    variant.spec.label()));
        }
        const calibrate::FittedChoice choice = calibrate::choose_fitted(it->second, context_nll, variant.quality);
        outcome.ratio = choice.ratio;
        outcome.b = choice.b;
        outcome.alpha = it->second.fit.alpha;
        outcome.beta = it->second.fit.beta;
        outcome.seconds = time.elapsed_s();
    } else {
        if (!online) throw std::logic_error("eval: an online quality variant has no calibration");
        outcome.online = online;
        outcome.ratio = online->ratio;
        outcome.seconds = online->seconds;
    }
    return outcome;
}

json quality_fields(const Variant& variant, const QualityOutcome& quality, double context_nll) {
    json fields = {{"quality", variant.quality},
                   {"calibration", to_string(variant.calibration)},
                   {"context_nll", std::isfinite(context_nll) ? json(context_nll) : json(nullptr)},
                   {"calibration_s", quality.seconds}};
    if (!quality.online) {
        // A resumed run keys lines by τ and kind only, so each line states
        // the fit it used.
        fields["calibration_b"] = quality.b;
        fields["calibration_alpha"] = quality.alpha;
        fields["calibration_beta"] = quality.beta;
        return fields;
    }
    json candidates = json::array();
    for (const CalibrationCandidate& c : quality.online->candidates) {
        candidates.push_back({{"kept_fraction", c.kept_fraction},
                              {"quality_ratio", c.quality_ratio},
                              {"probe_nll", c.probe_nll},
                              {"seconds", c.seconds}});
    }
    fields["probe_nll_full"] = quality.online->probe_nll_full;
    fields["online_candidates"] = candidates;
    return fields;
}

// The report of a cache left whole, measured like compress() measures.
CompressionReport whole_cache_report(const KvCache& cache) {
    CompressionReport report;
    report.n_tokens = cache.max_length();
    report.rows_before = report.rows_after = cache.total_rows();
    report.bytes_before = report.bytes_after = cache.size_bytes();
    return report;
}

std::string hash_text(uint64_t hash) { return fmt::format("{:016x}", hash); }

// The label that reused_from names for an earlier line: its own source
// when it reused one, else its variant.
std::string source_label(const json& line) {
    if (const auto it = line.find("reused_from"); it != line.end() && it->is_string()) return it->get<std::string>();
    const ResultKey key = result_key(line);
    const std::string method = key.budget.empty() ? key.method : key.method + ":" + key.budget;
    if (!key.calibration.empty()) return method + "@q" + key.ratio + "/" + key.calibration;
    return method + "@" + key.ratio;
}

}  // namespace

SampleRunResult run_sample(const Engine& engine, const EvalOptions& options, const LineContext& context,
                           const Sample& sample, const std::vector<Variant>& variants,
                           const std::vector<const json*>& earlier_lines) {
    const Stopwatch sample_time;
    const SampleTokens tokens = encode_tokens(engine, sample, options.protocol);
    check_fits(sample, tokens, engine.config().n_ctx_train);

    // Query-aware runs protect the question at the end of the context.
    CompressionOptions base = options.compression;
    base.recent += static_cast<int>(tokens.n_protected_question);

    // The context NLL costs output-head products, so only fitted
    // calibrations, which need it, measure it.
    bool needs_nll = false;
    for (const Variant& variant : variants) {
        needs_nll = needs_nll || (variant.has_quality() && variant.calibration == CalibrationKind::fitted);
    }
    NextTokenNll nll{options.nll_stride, tokens.n_template};
    const Prefill prefill = prefill_and_score(engine, base, options.prefill_chunk, tokens, methods_to_score(variants),
                                              needs_nll ? &nll : nullptr);
    const double context_nll = needs_nll ? nll.mean() : std::nan("");
    const uint64_t full_hash = kept_rows_hash(prefill.cache);

    std::map<std::string, const json*> earlier_by_hash;
    for (const json* line : earlier_lines) {
        if (line->contains("kept_hash") && (*line)["kept_hash"].is_string()) {
            earlier_by_hash.emplace((*line)["kept_hash"].get<std::string>(), line);
        }
    }

    // Compress a copy per variant; only variants with a kept set not seen
    // before in this sample generate an answer.
    const std::vector<std::optional<OnlineCalibration>> online =
        calibrate_online_variants(engine, options, base, tokens, prefill, variants);
    std::vector<Outcome> outcomes(variants.size());
    std::map<uint64_t, size_t> generator_of_hash;
    AnswerGroups groups(engine, sample, tokens.answer_prompt, options.max_batch, outcomes);
    for (size_t i = 0; i < variants.size(); ++i) {
        Outcome& outcome = outcomes[i];
        std::optional<KvCache> copy;
        if (variants[i].keeps_whole_cache()) {
            outcome.report = whole_cache_report(prefill.cache);
            outcome.kept_hash = full_hash;
        } else {
            CompressionOptions compression = variant_options(base, variants[i]);
            if (variants[i].has_quality()) {
                outcome.quality = choose_quality_ratio(options, context_nll, variants[i], online[i]);
                compression.ratio = outcome.quality->ratio;
            }
            const MethodScores& scored = prefill.methods.at(variants[i].spec.method);
            CompressedCopy compressed = compressed_copy(prefill.cache, scored.scores, compression);
            outcome.report = compressed.report;
            copy.emplace(std::move(compressed.cache));
            outcome.kept_hash = kept_rows_hash(*copy);
        }

        if (const auto it = generator_of_hash.find(outcome.kept_hash); it != generator_of_hash.end()) {
            outcome.reuses = it->second;
        } else if (const auto earlier = earlier_by_hash.find(hash_text(outcome.kept_hash));
                   earlier != earlier_by_hash.end()) {
            outcome.earlier_line = earlier->second;
        } else {
            generator_of_hash.emplace(outcome.kept_hash, i);
            groups.add(i, copy ? std::move(*copy) : KvCache(prefill.cache));
        }
    }
    groups.flush();

    SampleRunResult result;
    result.n_generations = groups.n_generations();
    const double sample_wall_s = sample_time.elapsed_s();
    for (size_t i = 0; i < variants.size(); ++i) {
        const Variant& variant = variants[i];
        const Outcome& outcome = outcomes[i];
        const auto scored = prefill.methods.find(variant.spec.method);
        const bool has_scores = scored != prefill.methods.end() && !variant.keeps_whole_cache();

        json line = {
            {"sample_id", sample.id},
            {"suite", sample.suite},
            {"task", sample.task},
            {"length", sample.target_tokens},
            {"n_context_tokens", static_cast<int64_t>(tokens.context.size())},
            {"seed", sample.seed},
            {"method", variant.spec.method},
            {"budget", variant.spec.method == "none" ? json(nullptr) : json(to_string(variant.spec.budget))},
            {"ratio", variant.ratio},
            {"protocol", to_string(options.protocol)},
            {"metric", sample.metric},
            {"template", sample.template_name},
            {"references", sample.references},
            {"kept_fraction", outcome.report.kept_fraction},
            {"kept_hash", hash_text(outcome.kept_hash)},
            {"kv_bytes", outcome.report.bytes_after},
            {"kv_bytes_full", outcome.report.bytes_before},
            {"prefill_s", prefill.prefill_s},
            {"score_s", has_scores ? scored->second.score_s : 0.0},
            {"second_pass_s", has_scores ? scored->second.second_pass_s : 0.0},
            {"compact_s", outcome.report.compact_s},
        };
        if (outcome.quality) {
            line["ratio"] = outcome.quality->ratio;
            line.update(quality_fields(variant, *outcome.quality, context_nll));
        }

        if (outcome.earlier_line != nullptr) {
            const json& earlier = *outcome.earlier_line;
            for (const char* key : {"score", "prediction", "n_generated", "stop_reason"}) line[key] = earlier.at(key);
            line.update({{"answer_prefill_s", 0.0}, {"decode_s", 0.0}, {"batch_size", 0},
                         {"reused_from", source_label(earlier)}});
        } else {
            const size_t source = outcome.reuses.value_or(i);
            const Generation& generation = *outcomes[source].generation;
            const bool own = source == i;
            line.update({
                {"score", outcomes[source].score},
                // A generation cut at its token limit can end inside a UTF-8
                // character. The metrics score the tokenizer's repair of it, so
                // the line stores that same text rather than the writer's.
                {"prediction", replace_invalid_utf8(generation.text)},
                {"n_generated", static_cast<int64_t>(generation.tokens.size())},
                {"stop_reason", to_string(generation.stop_reason)},
                {"answer_prefill_s", own ? generation.prefill_s : 0.0},
                {"decode_s", own ? generation.decode_s : 0.0},
                {"batch_size", own ? generation.batch_size : 0},
                {"reused_from", own ? json(nullptr) : json(variants[source].label())},
            });
        }
        line.update({
            {"sample_wall_s", sample_wall_s},
            {"run_id", context.run_id},
            {"model", context.model_name},
            {"model_bytes", context.model_bytes},
            {"version", kVersion},
            {"settings", context.settings},
        });
        result.lines.push_back(std::move(line));
    }
    spdlog::debug("eval: sample {}: {} variants, {} answers generated, prefill {:.2f} s, total {:.2f} s", sample.id,
                  variants.size(), result.n_generations, prefill.prefill_s, sample_wall_s);
    return result;
}

}  // namespace compactor::eval
