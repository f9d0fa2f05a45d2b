// Options of `compactor run` and their registration with CLI11.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/quality_options.h"
#include "compress/compressor.h"
#include "model/sampler.h"
#include "model/weight_matrix.h"

namespace compactor::cli {

struct RunArgs {
    std::string model;                   // empty: default_model_path()
    std::string context;                 // empty: the bundled examples/document.txt
    std::vector<std::string> questions;  // empty: examples/questions.txt (only without --context)
    CompressionOptions compression;
    bool ratio_given = false;            // --ratio was on the command line
    QualityArgs quality;                 // --quality picks the ratio instead
    std::string budget = "per_layer";    // parsed into compression.budget
    bool no_value_weighting = false;
    SamplingOptions sampling;
    int64_t max_tokens = 64;
    int64_t prefill_chunk = 512;
    int threads = 0;                     // 0: all cores
    WeightFormat weights = WeightFormat::quantized;
    bool json = false;
};

void add_run_options(CLI::App& command, RunArgs& args);

// Checks the ranges of the options CLI11 only parses (throws CliError) and
// copies the flag-shaped options into args.compression.
void finish_run_args(RunArgs& args);

}  // namespace compactor::cli
