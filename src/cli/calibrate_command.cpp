#include "cli/calibrate_command.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "calibrate/calibration_file.h"
#include "calibrate/calibration_fit.h"
#include "calibrate/model_digest.h"
#include "cli/cli_error.h"
#include "cli/eval_args.h"
#include "cli/eval_paths.h"
#include "cli/model_options.h"
#include "cli/progress_line.h"
#include "compactor/engine.h"
#include "engine/json_text.h"
#include "engine/stopwatch.h"
#include "eval/eval_list.h"
#include "eval/eval_samples.h"
#include "eval/eval_variant.h"
#include "eval/fit_data.h"
#include "eval/runner.h"

namespace compactor::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct FitPlan {
    eval::SampleSelection selection;
    eval::FitDataOptions data;
    calibrate::FitOptions fit;
    std::string budget;
};

std::vector<std::string> parse_methods(const std::string& list) {
    std::vector<std::string> methods;
    for (const std::string& method : eval::split_comma_list(list)) {
        const std::vector<std::string>& known = method_names();
        if (method == "none" || std::find(known.begin(), known.end(), method) == known.end()) {
            throw CliError(fmt::format("--methods: '{}' is not a compression method to calibrate; use any of {} "
                                       "except none",
                                       method, fmt::join(known, ", ")));
        }
        if (std::find(methods.begin(), methods.end(), method) == methods.end()) methods.push_back(method);
    }
    return methods;
}

std::vector<double> parse_kept_grid(const std::string& list) {
    std::vector<double> grid;
    try {
        grid = eval::parse_ratio_list(list);
    } catch (const std::invalid_argument& e) {
        throw CliError(fmt::format("--kept-grid: {}", e.what()));
    }
    if (grid.front() <= 0.0) {
        throw CliError(fmt::format("--kept-grid '{}' contains 0; kept fractions must be in (0, 1)", list));
    }
    return grid;
}

FitPlan finish_args(const CalibrateFitArgs& args) {
    if (!(args.over_weight >= 1.0)) {
        throw CliError(fmt::format("--over-weight {} is invalid; use 1 (symmetric) or more", args.over_weight));
    }
    if (args.nll_stride < 1) throw CliError(fmt::format("--nll-stride {} is invalid; use 1 or more", args.nll_stride));
    if (args.prefill_chunk < 1) {
        throw CliError(fmt::format("--prefill-chunk {} is invalid; use a positive token count", args.prefill_chunk));
    }
    check_thread_count(args.threads);

    FitPlan plan;
    plan.selection = parse_selection(args.selection);

    BudgetMode budget = BudgetMode::per_layer;
    try {
        budget = eval::parse_budget(args.budget);
    } catch (const std::invalid_argument& e) {
        throw CliError(fmt::format("--budget: {}", e.what()));
    }
    plan.budget = eval::to_string(budget);
    plan.data.methods = parse_methods(args.methods);
    plan.data.kept_grid = parse_kept_grid(args.kept_grid);
    plan.data.nll_stride = args.nll_stride;
    plan.data.prefill_chunk = args.prefill_chunk;
    plan.data.compression = args.compression;
    plan.data.compression.budget = budget;
    plan.data.compression.value_weighting = !args.no_value_weighting;
    plan.data.compression.seed = args.selection.seed;
    plan.data.compression.ratio = 0;
    try {
        validate(plan.data.compression);
    } catch (const std::invalid_argument& e) {
        throw CliError(fmt::format("{} (see compactor calibrate fit --help)", e.what()));
    }
    plan.fit.over_weight = args.over_weight;
    return plan;
}

// Returns the settings every fit-data line must share to be pooled: the model file, the
// methods' settings and how each point was measured.
json data_settings(const FitPlan& plan, const std::string& model_sha256, WeightFormat weights) {
    eval::EvalOptions scorer;
    scorer.compression = plan.data.compression;
    return {{"model_sha256", model_sha256},
            {"budget", plan.budget},
            {"kept_grid", plan.data.kept_grid},
            {"nll_stride", plan.data.nll_stride},
            {"scorer", eval::settings_json(scorer, weights)}};
}

// Earlier lines of fit-data.jsonl, by sample id; a last line cut short by a
// killed run is dropped.
std::map<std::string, json> read_fit_data(const fs::path& path, const json& settings) {
    std::map<std::string, json> lines;
    std::ifstream in(path);
    if (!in) return lines;
    std::vector<std::string> texts;
    for (std::string text; std::getline(in, text);) {
        if (!text.empty()) texts.push_back(text);
    }
    for (size_t i = 0; i < texts.size(); ++i) {
        json line;
        try {
            line = json::parse(texts[i]);
        } catch (const json::exception&) {
            if (i + 1 == texts.size()) {
                spdlog::warn("calibrate: dropping the unfinished last line of {}", path.string());
                continue;
            }
            throw CliError(fmt::format("{} line {} is not JSON; move the file away and rerun", path.string(), i + 1));
        }
        if (line.value("settings", json()) != settings) {
            throw CliError(fmt::format(
                "{} line {} was measured with other settings ({}); this run uses {}; pass another --out",
                path.string(), i + 1, json_text(line.value("settings", json())), json_text(settings)));
        }
        lines[line.at("sample_id").get<std::string>()] = line;
    }
    return lines;
}

void append_line(const fs::path& path, const json& line) {
    std::ofstream out(path, std::ios::app);
    out << json_text(line) << '\n';
    out.flush();
    if (!out) throw CliError(fmt::format("cannot append to {}; check free disk space and permissions", path.string()));
}

calibrate::Calibration fit_method(const std::string& method, const std::vector<calibrate::CalibrationPoint>& points,
                                  const FitPlan& plan, const std::string& model_path, const std::string& model_name,
                                  const std::string& model_sha256, const json& settings, const CalibrateFitArgs& args) {
    // A compressed cache that predicts the answer better than the full one
    // (ratio above 1, common when the full-cache NLL is small) counts as
    // quality fully kept: the curve cannot exceed 1, and such points would
    // otherwise pull the fit toward compressing more.
    std::vector<calibrate::CalibrationTriple> triples;
    for (const calibrate::CalibrationPoint& p : points) {
        triples.push_back({p.kept_fraction, p.context_nll, std::min(1.0, p.quality_ratio())});
    }
    calibrate::Calibration c;
    c.model_name = model_name;
    c.model_file = fs::path(model_path).filename().string();
    c.model_sha256 = model_sha256;
    c.method = method;
    c.budget = plan.budget;
    c.scorer_settings = settings.at("scorer");
    c.nll_stride = plan.data.nll_stride;
    c.fit_options = plan.fit;
    c.fit = calibrate::fit_calibration(triples, plan.fit);
    c.suite = plan.selection.suite;
    c.lengths = plan.selection.lengths;
    c.kept_grid = plan.data.kept_grid;
    c.command = args.command_line;
    c.points = points;
    std::set<std::string> samples;
    for (const calibrate::CalibrationPoint& p : points) samples.insert(p.sample_id);
    c.n_samples = static_cast<int64_t>(samples.size());
    return c;
}

}  // namespace

int calibrate_fit_command(const CalibrateFitArgs& args) {
    const Stopwatch wall_time;
    FitPlan plan = finish_args(args);
    const std::string model_path = checked_model_path(args.model);
    plan.selection.data_dir = checked_data_dir(args.selection.data_dir);

    const Engine engine(model_path, args.threads, args.weights);
    const std::string model_sha256 = calibrate::file_sha256(model_path);
    const json settings = data_settings(plan, model_sha256, engine.model().weight_format());

    const std::vector<eval::PlannedSample> samples =
        eval::plan_samples(plan.selection, engine.tokenizer(), engine.chat_template(), engine.config().n_ctx_train);
    std::error_code error;
    fs::create_directories(args.out, error);
    if (error || !fs::is_directory(args.out)) {
        throw CliError(fmt::format("cannot create the output folder {}; pass another --out", args.out));
    }
    const fs::path data_path = fs::path(args.out) / "fit-data.jsonl";
    std::map<std::string, json> done = read_fit_data(data_path, settings);

    std::vector<const eval::PlannedSample*> to_run;
    for (const eval::PlannedSample& sample : samples) {
        if (done.count(sample.id) == 0) to_run.push_back(&sample);
    }
    spdlog::info("calibrate: {} samples planned ({} suite, lengths {}), {} already in {}; methods {}, kept grid {}",
                 samples.size(), plan.selection.suite, fmt::join(plan.selection.lengths, ","),
                 samples.size() - to_run.size(), data_path.string(), fmt::join(plan.data.methods, ","),
                 fmt::join(plan.data.kept_grid, ","));

    ProgressLine progress("calibrate");
    const Stopwatch run_time;
    for (size_t i = 0; i < to_run.size(); ++i) {
        const eval::Sample sample = to_run[i]->load();
        eval::SampleFitData data;
        try {
            data = eval::measure_fit_sample(engine, sample, plan.data);
        } catch (const std::invalid_argument& e) {
            throw CliError(e.what());
        }
        json line = eval::to_json(data);
        line["task"] = sample.task;
        line["length"] = sample.target_tokens;
        line["settings"] = settings;
        append_line(data_path, line);
        done[sample.id] = line;

        const double elapsed = run_time.elapsed_s();
        const double eta = elapsed / static_cast<double>(i + 1) * static_cast<double>(to_run.size() - i - 1);
        progress.draw(static_cast<double>(i + 1) / static_cast<double>(to_run.size()),
                      fmt::format("{}/{} samples, {} elapsed, ETA {}", i + 1, to_run.size(), format_duration(elapsed),
                                  format_duration(eta)));
        if (!progress.enabled() && !args.quiet) {
            spdlog::info("calibrate: sample {}/{} {} done in {:.1f} s (context NLL {:.4f}); ETA {}", i + 1,
                         to_run.size(), sample.id, data.seconds, data.context_nll, format_duration(eta));
        }
    }
    progress.finish();

    // Pool the planned samples' points per method and fit each.
    std::map<std::string, std::vector<calibrate::CalibrationPoint>> points;
    double data_seconds = 0;
    for (const eval::PlannedSample& sample : samples) {
        const json& line = done.at(sample.id);
        const eval::SampleFitData data = eval::sample_fit_data_from_json(line);
        data_seconds += data.seconds;
        for (const auto& [method, method_points] : data.points) {
            for (calibrate::CalibrationPoint p : method_points) {
                p.task = line.at("task").get<std::string>();
                p.length = line.at("length").get<int64_t>();
                points[method].push_back(p);
            }
        }
    }
    const std::string stem = fs::path(model_path).stem().string();
    for (const std::string& method : plan.data.methods) {
        calibrate::Calibration calibration;
        try {
            calibration = fit_method(method, points[method], plan, model_path, engine.config().name, model_sha256,
                                     settings, args);
        } catch (const std::invalid_argument& e) {
            throw CliError(fmt::format("fitting {} failed: {}", method, e.what()));
        }
        calibration.wall_s = data_seconds;
        const fs::path out = fs::path(args.out) / fmt::format("{}.{}.{}.json", stem, method, plan.budget);
        calibrate::write_calibration(out.string(), calibration);
        const calibrate::CalibrationFit& fit = calibration.fit;
        spdlog::info("calibrate: {}: alpha {:.4f}, beta {:.4f} over {} points from {} samples; RMSE {:.4f}, mean "
                     "residual {:+.4f}, {:.1f}% of points over-predicted{}; wrote {}",
                     method, fit.alpha, fit.beta, fit.n_triples, calibration.n_samples, fit.rmse, fit.mean_residual,
                     100.0 * fit.over_fraction, fit.converged ? "" : " (did not converge)", out.string());
    }
    spdlog::info("calibrate: finished in {} ({} of measurement over all samples)", format_duration(wall_time.elapsed_s()),
                 format_duration(data_seconds));
    return 0;
}

}  // namespace compactor::cli
