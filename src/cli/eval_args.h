// Options of `compactor eval` and their registration with CLI11.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/selection_options.h"
#include "compactor/online_calibration.h"
#include "compress/compressor.h"
#include "eval/eval_samples.h"
#include "eval/runner.h"
#include "model/weight_matrix.h"

namespace compactor::cli {

// The options as typed; finish_eval_args() parses the lists.
struct EvalArgs {
    std::string model;                   // empty: default_model_path()
    SelectionArgs selection = selection_defaults("4096", 20);
    std::vector<std::string> longbench;  // extra LongBench-format JSONL files
    std::string methods;                 // empty: only --export-samples
    std::string ratios = "0,0.25,0.5,0.75,0.9";
    std::string qualities;               // empty: no quality-budget variants
    std::string calibrate = "fitted";    // comma list of fitted, online
    std::vector<std::string> calibrations;  // fitted calibration files; default: the calibration/ folder's
    int64_t nll_stride = 4;
    int probes = OnlineCalibrationOptions{}.n_probes;
    std::string budget = "per_layer";
    std::string protocol = "agnostic";
    std::string out;
    std::string export_samples;
    int threads = 0;
    // fp32 by default, because batched generation multiplies dozens of rows
    // per step. Resident fp32 weights are faster there than dequantizing
    // tiles every step, and the outputs carry no int8 rounding.
    WeightFormat weights = WeightFormat::fp32;
    int64_t batch = 64;
    int64_t prefill_chunk = 512;
    bool quiet = false;
    bool report_only = false;        // rebuild summary.md and the plots from results.jsonl, run nothing
    bool no_value_weighting = false;
    CompressionOptions compression;      // scorer knobs
    std::string command_line;            // set by main() for summary.md
};

void add_eval_options(CLI::App& command, EvalArgs& args);

// The plan finish_eval_args() parses from EvalArgs.
struct EvalPlan {
    eval::SampleSelection selection;
    eval::EvalOptions options;  // methods empty when only exporting samples
};

// Parse and check every option that needs no model; throws CliError naming
// the value and the fix.
EvalPlan finish_eval_args(const EvalArgs& args);

// argv joined with spaces, arguments with shell-special characters quoted.
std::string quote_command_line(int argc, const char* const* argv);

}  // namespace compactor::cli
