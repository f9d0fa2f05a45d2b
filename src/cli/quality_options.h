// Quality-budget options shared by `run` and `eval`: --quality τ picks the
// compression ratio per document, from a fitted calibration file or from
// online probes of the document.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "compactor/online_calibration.h"

namespace compactor::cli {

enum class CalibrationKind { fitted, online };
const char* to_string(CalibrationKind kind);

struct QualityArgs {
    double quality = 0;               // τ in (0, 1], when quality_given
    bool quality_given = false;       // --quality was on the command line
    std::string calibrate = "fitted";
    CalibrationKind kind = CalibrationKind::fitted;  // parsed from calibrate
    std::string calibration;          // fitted: file; empty looks in the bundled calibration/ folder
    int64_t nll_stride = 4;           // positions between scored context-NLL predictions
    OnlineCalibrationOptions online;  // online: probes and kept fractions tried

    bool enabled() const { return quality_given; }
};

void add_quality_options(CLI::App& command, QualityArgs& args);

// Checks ranges and parses --calibrate; throws CliError naming the value and the fix.
void finish_quality_args(QualityArgs& args);

}  // namespace compactor::cli
