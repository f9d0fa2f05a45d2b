#include "cli/eval_command.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "calibrate/calibration_file.h"
#include "calibrate/model_digest.h"
#include "cli/bench_system.h"
#include "cli/cli_error.h"
#include "cli/default_paths.h"
#include "cli/eval_paths.h"
#include "cli/eval_progress.h"
#include "compactor/engine.h"
#include "engine/json_text.h"
#include "engine/stopwatch.h"
#include "eval/eval_plot.h"
#include "eval/eval_report.h"
#include "eval/eval_results.h"
#include "eval/runner.h"

namespace compactor::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The fitted calibration of every method of a quality-budget run: from
// --calibration files when one matches the method and budget, else from the
// calibration/ folder. Throws CliError when a method has none or a file
// belongs to another model.
void load_calibrations(const std::vector<std::string>& files, const std::string& model_path,
                       const std::string& model_name, eval::EvalOptions& options) {
    const bool fitted = std::find(options.calibration_kinds.begin(), options.calibration_kinds.end(),
                                  eval::CalibrationKind::fitted) != options.calibration_kinds.end();
    if (!files.empty() && (options.qualities.empty() || !fitted)) {
        throw CliError("--calibration names fitted calibration files, but no fitted quality budget runs; add "
                       "--qualities with --calibrate fitted, or drop --calibration");
    }
    if (options.qualities.empty() || !fitted) return;

    const std::string model_sha256 = calibrate::file_sha256(model_path);
    std::vector<std::pair<std::string, calibrate::Calibration>> given;
    for (const std::string& file : files) {
        try {
            given.emplace_back(file, calibrate::read_calibration(file));
        } catch (const std::runtime_error& e) {
            throw CliError(fmt::format("--calibration: {}", e.what()));
        }
    }
    const fs::path default_dir = find_calibration_dir();
    for (const eval::MethodSpec& spec : options.methods) {
        if (spec.method == "none" || options.calibrations.count(spec.label())) continue;
        const std::string budget = spec.budget_name();
        std::string path;
        for (const auto& [file, calibration] : given) {
            if (calibration.method == spec.method && calibration.budget == budget) {
                path = file;
                break;
            }
        }
        if (path.empty() && !default_dir.empty()) {
            path = calibrate::find_calibration_file(default_dir.string(), model_sha256, spec.method, budget);
        }
        if (path.empty()) {
            throw CliError(fmt::format("no fitted calibration for {} with model {}; make one with compactor calibrate "
                                       "fit --methods {} and pass --calibration FILE, or use --calibrate online",
                                       spec.label(), model_path, spec.method));
        }
        try {
            calibrate::Calibration calibration = calibrate::read_calibration(path);
            calibrate::check_calibration_matches(calibration, model_sha256, model_name, spec.method, budget);
            spdlog::info("eval: {} uses calibration {} (alpha {:.4f}, beta {:.4f})", spec.label(), path,
                         calibration.fit.alpha, calibration.fit.beta);
            options.calibrations.emplace(spec.label(), std::move(calibration));
        } catch (const std::exception& e) {
            throw CliError(fmt::format("{}: {}", path, e.what()));
        }
    }
}

void create_out_dir(const std::string& out) {
    std::error_code error;
    fs::create_directories(out, error);
    if (error || !fs::is_directory(out)) {
        throw CliError(fmt::format("cannot create the output folder {}: {}; pass another --out", out,
                                   error ? error.message() : "a file has that name"));
    }
}

// Scorers that cannot be built (unknown knobs, methods not built yet) fail
// here, before any prefill.
void check_methods_build(const eval::EvalOptions& options, const ModelConfig& config) {
    std::set<std::string> checked;
    for (const eval::MethodSpec& spec : options.methods) {
        if (spec.method == "none" || !checked.insert(spec.method).second) continue;
        CompressionOptions scorer_options = options.compression;
        scorer_options.method = spec.method;
        try {
            make_scorer(scorer_options, model_shape(config));
        } catch (const std::invalid_argument& e) {
            throw CliError(fmt::format("--methods: {}", e.what()));
        }
    }
}

std::string time_text(const char* format, bool utc) {
    const std::time_t now = std::time(nullptr);
    std::tm parts{};
    if (utc) {
        gmtime_r(&now, &parts);
    } else {
        localtime_r(&now, &parts);
    }
    char text[64];
    return std::string(text, std::strftime(text, sizeof text, format, &parts));
}

void export_samples(const std::string& path, const std::vector<eval::PlannedSample>& samples) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw CliError(fmt::format("cannot write --export-samples {}: check the folder and permissions", path));
    // A context cut in the middle by tokens can split a UTF-8 character:
    // such bytes are written as U+FFFD rather than stopping the export.
    for (const eval::PlannedSample& sample : samples) {
        out << json_text(eval::to_json(sample.load())) << '\n';
    }
    out.flush();
    if (!out) throw CliError(fmt::format("writing --export-samples {} failed; check free disk space", path));
    spdlog::info("eval: wrote {} samples to {}", samples.size(), path);
}

void write_summary(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw CliError(fmt::format("cannot write {}: check the folder's permissions", path.string()));
}

}  // namespace

int eval_command(const EvalArgs& args) {
    const Stopwatch wall_time;
    EvalPlan plan = finish_eval_args(args);
    const std::string model_path = checked_model_path(args.model);
    plan.selection.data_dir = checked_data_dir(args.selection.data_dir);
    const bool run_methods = !plan.options.methods.empty();

    std::optional<eval::ResultsFile> results;
    if (args.report_only && !fs::exists(fs::path(args.out) / "results.jsonl")) {
        throw CliError(fmt::format("--report-only needs {}, which does not exist; point --out at a folder an earlier "
                                   "eval wrote",
                                   (fs::path(args.out) / "results.jsonl").string()));
    }
    if (run_methods) results.emplace(fs::path(args.out) / "results.jsonl");

    const Engine engine(model_path, args.threads, args.weights);
    const std::string model_name = fs::path(model_path).filename().string();
    const auto model_bytes = static_cast<uint64_t>(fs::file_size(model_path));
    if (run_methods) {
        check_methods_build(plan.options, engine.config());
        load_calibrations(args.calibrations, model_path, engine.config().name, plan.options);
        const nlohmann::json settings = eval::settings_json(plan.options, engine.model().weight_format());
        results->check_compatible(model_name, model_bytes, settings);
        results->check_fits_match(plan.options.calibrations);
    }

    const std::vector<eval::PlannedSample> samples =
        eval::plan_samples(plan.selection, engine.tokenizer(), engine.chat_template(), engine.config().n_ctx_train);
    if (!args.export_samples.empty()) export_samples(args.export_samples, samples);
    if (!run_methods) return 0;
    // Created only now, so that a run rejected above leaves no empty folder.
    create_out_dir(args.out);

    const std::string run_id = fmt::format("{}-{}", time_text("%Y%m%dT%H%M%SZ", true), getpid());
    eval::EvalRunner runner(engine, plan.options, *results, model_name, model_bytes, run_id);
    spdlog::info("eval: model {}, {} threads, {} samples, {} variants per sample, {} protocol, output {}", model_name,
                 engine.model().n_threads(), samples.size(), runner.variants().size(),
                 eval::protocol_heading(plan.options.protocol), args.out);
    if (plan.options.protocol == eval::Protocol::aware) {
        spdlog::info("eval: query-aware: every sample is prefilled with its question, separately from query-agnostic "
                     "runs");
    }

    eval::EvalStats stats;
    if (args.report_only) {
        spdlog::info("eval: --report-only: rebuilding the summary and plots from {} ({} lines)",
                     results->path().string(), results->lines().size());
    } else {
        EvalProgressDisplay display(args.quiet);
        stats = runner.run(samples, [&display](const eval::EvalProgress& progress) { display.update(progress); });
        display.finish();
    }
    if (stats.n_samples_run == 0 && !args.report_only) {
        spdlog::info("eval: every variant of the {} samples is already in {}; no lines added", samples.size(),
                     results->path().string());
    }

    // The summary and plots cover the whole file, earlier invocations included.
    const fs::path out = args.out;
    eval::ReportContext report;
    report.command_line = args.command_line;
    report.model_name = model_name;
    report.model_bytes = model_bytes;
    report.date = time_text("%Y-%m-%d %H:%M %Z", false);
    report.machine = read_system_info().cpu_model;
    report.n_threads = engine.model().n_threads();
    report.wall_s = wall_time.elapsed_s();
    write_summary(out / "summary.md", eval::render_summary(results->lines(), report));
    const std::vector<fs::path> images = eval::write_plots(out, results->lines());

    spdlog::info("eval: finished in {}; samples run: {}, skipped: {}; lines added: {}; answers generated: {}; "
                 "wrote {}, {} and {} plot files",
                 format_duration(wall_time.elapsed_s()), stats.n_samples_run, stats.n_samples_skipped,
                 stats.n_lines_written, stats.n_generations, results->path().string(),
                 (out / "summary.md").string(), images.size());
    return 0;
}

}  // namespace compactor::cli
