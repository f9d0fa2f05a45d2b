// The compression ratio `run` applies for --quality τ, with what it was
// chosen from, for the text and JSON reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "calibrate/calibration_file.h"
#include "cli/quality_options.h"
#include "compactor/engine.h"

namespace compactor::cli {

struct QualityReport {
    CalibrationKind kind = CalibrationKind::fitted;
    double tau = 1.0;
    double kept_fraction = 1.0;   // chosen, before compression measures it
    double ratio = 0.0;           // 1 − kept_fraction, applied to the cache
    double seconds = 0;           // time spent choosing (hashing and reading, or probing)

    // Fitted: the file and the curve parameter b = α · context NLL + β.
    std::string calibration_path;
    double alpha = 0;
    double beta = 0;
    double b = 0;

    // Online: every candidate the probes tried.
    std::optional<OnlineCalibration> online;
};

// A fitted calibration file, read and checked before the prefill so that a
// wrong file fails before the prefill's cost is spent.
struct LoadedCalibration {
    std::string path;
    calibrate::Calibration calibration;
    double seconds = 0;  // hashing the model file and reading the calibration
};

// Reads the --calibration file, or the calibration/ file made for this
// model, method and budget. Throws CliError when none is found, when the
// file belongs to another model, method or budget, or when the method is none.
LoadedCalibration load_calibration(const Engine& engine, const CompressionOptions& compression,
                                   const QualityArgs& args);

// Chooses the ratio for `full` (uncompressed) under args; `compression`
// gives the method and budget, and `fitted` is the calibration that
// load_calibration() returned (fitted kind only; null for online).
// Throws CliError when online calibration fails or the method is none.
QualityReport choose_ratio_for_quality(const DocumentSession& full, const CompressionOptions& compression,
                                       const QualityArgs& args, const LoadedCalibration* fitted);

}  // namespace compactor::cli
