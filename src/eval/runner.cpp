#include "eval/runner.h"

#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/stopwatch.h"
#include "eval/eval_sample_run.h"

namespace compactor::eval {

using nlohmann::json;

json settings_json(const EvalOptions& options, WeightFormat weights) {
    const CompressionOptions& c = options.compression;
    return {
        {"blend", c.blend},
        {"sketch_dim", c.sketch_dim},
        {"attn_chunk", c.attn_chunk},
        {"sink", c.sink},
        {"recent", c.recent},
        {"head_floor", c.head_floor},
        {"leverage_window", c.leverage_window},
        {"value_weighting", c.value_weighting},
        {"seed", c.seed},
        {"window", c.window},
        {"pool_kernel", c.pool_kernel},
        {"pyramid_beta", c.pyramid_beta},
        {"n_future_positions", c.n_future_positions},
        {"epsilon", c.epsilon},
        {"weights", to_string(weights)},
    };
}

EvalRunner::EvalRunner(const Engine& engine, EvalOptions options, ResultsFile& results, std::string model_name,
                       uint64_t model_bytes, std::string run_id)
    : engine_(engine),
      options_(std::move(options)),
      results_(results),
      model_name_(std::move(model_name)),
      model_bytes_(model_bytes),
      run_id_(std::move(run_id)),
      variants_(plan_variants(options_.methods, options_.ratios, options_.qualities, options_.calibration_kinds)) {
    if (variants_.empty()) throw std::invalid_argument("no method given; pass --methods such as none,compactor");
    if (options_.max_batch < 1) {
        throw std::invalid_argument(fmt::format("batch size {} is invalid; use at least 1 request (--batch)",
                                                options_.max_batch));
    }
    validate(options_.compression);
}

std::vector<Variant> EvalRunner::missing_variants(const std::string& sample_id) const {
    std::vector<Variant> missing;
    for (const Variant& variant : variants_) {
        if (!results_.contains(result_key(sample_id, variant, options_.protocol))) missing.push_back(variant);
    }
    return missing;
}

EvalStats EvalRunner::run(const std::vector<PlannedSample>& samples, const EvalProgressCallback& on_progress) {
    const Stopwatch run_time;
    const LineContext context{model_name_, model_bytes_, run_id_, settings_json(options_, engine_.model().weight_format())};
    const std::string protocol = to_string(options_.protocol);

    // Indices of each sample's earlier lines under this protocol, for answer
    // reuse. Indices stay valid while lines are appended; pointers would not.
    std::map<std::string, std::vector<size_t>> earlier_lines;
    for (size_t i = 0; i < results_.lines().size(); ++i) {
        const json& line = results_.lines()[i];
        if (line.value("protocol", std::string()) == protocol) {
            earlier_lines[line.value("sample_id", std::string())].push_back(i);
        }
    }

    std::vector<std::vector<Variant>> missing;
    EvalProgress progress;
    progress.n_total = static_cast<int64_t>(samples.size());
    for (const PlannedSample& planned : samples) {
        missing.push_back(missing_variants(planned.id));
        if (!missing.back().empty()) ++progress.n_to_run;
    }
    spdlog::info("eval: {} of {} samples to run ({} already in {}), {} variants per sample, {}",
                 progress.n_to_run, progress.n_total, progress.n_total - progress.n_to_run,
                 results_.path().string(), variants_.size(), protocol_heading(options_.protocol));

    EvalStats stats;
    for (size_t i = 0; i < samples.size(); ++i) {
        const PlannedSample& planned = samples[i];
        progress.sample_id = planned.id;
        if (missing[i].empty()) {
            ++stats.n_samples_skipped;
            ++progress.n_done;
            continue;
        }

        progress.started = true;
        progress.elapsed_s = run_time.elapsed_s();
        if (on_progress) on_progress(progress);

        const Sample sample = planned.load();
        if (sample.id != planned.id) {
            throw std::logic_error(fmt::format("sample planned as {} was generated with id {}", planned.id, sample.id));
        }
        std::vector<const json*> earlier;
        for (size_t line : earlier_lines[planned.id]) earlier.push_back(&results_.lines()[line]);
        const SampleRunResult result = run_sample(engine_, options_, context, sample, missing[i], earlier);
        results_.append(result.lines);

        ++stats.n_samples_run;
        stats.n_lines_written += static_cast<int64_t>(result.lines.size());
        stats.n_generations += result.n_generations;
        ++progress.n_done;
        ++progress.n_run;
        progress.started = false;
        progress.elapsed_s = run_time.elapsed_s();
        if (on_progress) on_progress(progress);
    }
    stats.wall_s = run_time.elapsed_s();
    return stats;
}

}  // namespace compactor::eval
