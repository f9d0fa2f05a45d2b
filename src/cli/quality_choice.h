// The compression ratio `run` applies for --quality τ, with what it was
// chosen from, for the text and JSON reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cli/quality_options.h"
#include "compactor/engine.h"

namespace compactor::cli {

struct QualityReport {
    CalibrationKind kind = CalibrationKind::fitted;
    double tau = 1.0;
    double kept_fraction = 1.0;   // chosen, before compression measures it
    double ratio = 0.0;           // 1 − kept_fraction, applied to the cache
    double seconds = 0;           // time spent choosing (hashing, reading or probing)

    // Fitted: the file and the curve parameter b = α · context NLL + β.
    std::string calibration_path;
    double alpha = 0;
    double beta = 0;
    double b = 0;

    // Online: every candidate the probes tried.
    std::optional<OnlineCalibration> online;
};

// Chooses the ratio for `full` (uncompressed) under args; `compression`
// gives the method and budget. Throws CliError when no calibration file fits
// the model, method and budget, or when the file belongs to another model
// or method.
QualityReport choose_ratio_for_quality(const Engine& engine, const DocumentSession& full,
                                       const CompressionOptions& compression, const QualityArgs& args);

}  // namespace compactor::cli
