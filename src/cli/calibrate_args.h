// Options of `compactor calibrate fit` and their registration with CLI11.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/selection_options.h"
#include "compress/compressor.h"
#include "model/weight_matrix.h"

namespace compactor::cli {

struct CalibrateFitArgs {
    std::string model;                 // empty: default_model_path()
    std::string methods = "compactor";
    std::string budget = "per_layer";
    SelectionArgs selection = selection_defaults("2048,4096", 5);
    std::string kept_grid = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9";
    double over_weight = 4.0;
    int64_t nll_stride = 4;
    int threads = 0;
    // fp32 like eval: teacher forcing runs dozens of rows per forward pass.
    WeightFormat weights = WeightFormat::fp32;
    int64_t prefill_chunk = 512;
    std::string out;
    bool quiet = false;
    bool no_value_weighting = false;
    CompressionOptions compression;    // scorer knobs
    std::string command_line;          // set by main(), stored in the calibration file
};

void add_calibrate_fit_options(CLI::App& command, CalibrateFitArgs& args);

}  // namespace compactor::cli
