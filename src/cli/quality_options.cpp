#include "cli/quality_options.h"

#include <fmt/format.h>

#include "cli/cli_error.h"

namespace compactor::cli {

const char* to_string(CalibrationKind kind) { return kind == CalibrationKind::fitted ? "fitted" : "online"; }

void add_quality_options(CLI::App& command, QualityArgs& args) {
    command.add_option("--quality", args.quality,
                       "Quality budget τ in (0, 1]: compress each document as far as the answer NLL stays within "
                       "about 1 - τ of the full cache's (replaces --ratio)")
        ->each([&args](const std::string&) { args.quality_given = true; });
    command.add_option("--calibrate", args.calibrate,
                       "How --quality picks the ratio: fitted (a calibration file) or online (probes of the "
                       "document itself)")
        ->capture_default_str();
    command.add_option("--calibration", args.calibration,
                       "Fitted calibration file (default: the file in calibration/ made for this model, method and "
                       "budget)");
    command.add_option("--nll-stride", args.nll_stride,
                       "Measure the context NLL on every n-th document position; 0 skips it")
        ->capture_default_str();
    command.add_option("--probes", args.online.n_probes, "Online calibration: quoting probes per document")
        ->capture_default_str();
}

void finish_quality_args(QualityArgs& args) {
    if (args.nll_stride < 0) {
        throw CliError(fmt::format("--nll-stride {} is invalid; use 0 (off) or a positive stride", args.nll_stride));
    }
    if (args.calibrate == "fitted") {
        args.kind = CalibrationKind::fitted;
    } else if (args.calibrate == "online") {
        args.kind = CalibrationKind::online;
    } else {
        throw CliError(fmt::format("--calibrate '{}' is invalid; use fitted or online", args.calibrate));
    }
    if (!args.enabled()) return;
    if (!(args.quality > 0.0 && args.quality <= 1.0)) {
        throw CliError(fmt::format("--quality {} is invalid; pass a value in (0, 1], such as 0.95", args.quality));
    }
    if (args.kind == CalibrationKind::fitted && args.nll_stride == 0) {
        throw CliError("--nll-stride 0 turns off the context NLL that a fitted --quality needs; use a positive "
                       "stride or --calibrate online");
    }
    if (args.online.n_probes < 1) {
        throw CliError(fmt::format("--probes {} is invalid; use at least 1", args.online.n_probes));
    }
    if (args.kind == CalibrationKind::online && !args.calibration.empty()) {
        throw CliError("--calibration names a fitted calibration file, but --calibrate is online; drop one of them");
    }
}

}  // namespace compactor::cli
