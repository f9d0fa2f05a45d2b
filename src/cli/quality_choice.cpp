#include "cli/quality_choice.h"

#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "calibrate/calibration_file.h"
#include "calibrate/fitted_choice.h"
#include "calibrate/model_digest.h"
#include "cli/cli_error.h"
#include "cli/default_paths.h"
#include "engine/stopwatch.h"

namespace compactor::cli {

namespace {

const char* budget_name(BudgetMode budget) { return budget == BudgetMode::per_head ? "per_head" : "per_layer"; }

// The --calibration file, or the bundled one made for this model, method and budget.
std::string calibration_path(const QualityArgs& args, const std::string& model_path, const std::string& model_sha256,
                             const CompressionOptions& compression) {
    if (!args.calibration.empty()) return args.calibration;
    const std::filesystem::path dir = find_calibration_dir();
    std::string found;
    if (!dir.empty()) {
        found = calibrate::find_calibration_file(dir.string(), model_sha256, compression.method,
                                                 budget_name(compression.budget));
    }
    if (found.empty()) {
        throw CliError(fmt::format(
            "no fitted calibration for model {} with method {} and budget {}{}; fit one with compactor calibrate fit "
            "and pass it with --calibration FILE, or use --calibrate online",
            model_path, compression.method, budget_name(compression.budget),
            dir.empty() ? " (no calibration/ folder found)" : fmt::format(" in {}", dir.string())));
    }
    return found;
}

QualityReport choose_fitted(const DocumentSession& full, const LoadedCalibration& fitted, const QualityArgs& args) {
    QualityReport report;
    report.calibration_path = fitted.path;
    const calibrate::FittedChoice choice = calibrate::choose_fitted(fitted.calibration, full.context_nll(), args.quality);
    report.alpha = fitted.calibration.fit.alpha;
    report.beta = fitted.calibration.fit.beta;
    report.b = choice.b;
    report.kept_fraction = choice.kept_fraction;
    report.ratio = choice.ratio;
    return report;
}

void check_method(const CompressionOptions& compression) {
    if (compression.method == "none") {
        throw CliError("--quality needs a compression method, but --method is none; pick one such as compactor");
    }
}

}  // namespace

LoadedCalibration load_calibration(const Engine& engine, const CompressionOptions& compression,
                                   const QualityArgs& args) {
    check_method(compression);
    const Stopwatch time;
    LoadedCalibration loaded;
    const std::string model_sha256 = calibrate::file_sha256(engine.model_path());
    loaded.path = calibration_path(args, engine.model_path(), model_sha256, compression);
    try {
        loaded.calibration = calibrate::read_calibration(loaded.path);
        calibrate::check_calibration_matches(loaded.calibration, model_sha256, engine.config().name,
                                             compression.method, budget_name(compression.budget));
    } catch (const std::exception& e) {
        throw CliError(fmt::format("{}: {}", loaded.path, e.what()));
    }
    if (loaded.calibration.nll_stride != args.nll_stride) {
        spdlog::warn("quality: the calibration measured the context NLL with stride {} but this run uses {}; pass "
                     "--nll-stride {} to match it",
                     loaded.calibration.nll_stride, args.nll_stride, loaded.calibration.nll_stride);
    }
    loaded.seconds = time.elapsed_s();
    return loaded;
}

QualityReport choose_ratio_for_quality(const DocumentSession& full, const CompressionOptions& compression,
                                       const QualityArgs& args, const LoadedCalibration* fitted) {
    check_method(compression);
    const Stopwatch time;
    QualityReport report;
    if (args.kind == CalibrationKind::fitted) {
        if (fitted == nullptr) throw std::logic_error("choose_ratio_for_quality: fitted kind without a calibration");
        report = choose_fitted(full, *fitted, args);
    } else {
        try {
            report.online = full.calibrate_online(compression, args.quality, args.online);
        } catch (const std::invalid_argument& e) {
            throw CliError(fmt::format("online calibration failed: {}", e.what()));
        }
        report.kept_fraction = report.online->kept_fraction;
        report.ratio = report.online->ratio;
    }
    report.kind = args.kind;
    report.tau = args.quality;
    report.seconds = time.elapsed_s() + (fitted != nullptr ? fitted->seconds : 0.0);
    spdlog::info("quality: tau {} ({}) chose kept fraction {:.4f} (ratio {:.4f}) for a context NLL of {:.4f} in "
                 "{:.2f} s",
                 report.tau, to_string(report.kind), report.kept_fraction, report.ratio, full.context_nll(),
                 report.seconds);
    return report;
}

}  // namespace compactor::cli
