// Options of `compactor bench` and their registration with CLI11.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "compress/compressor.h"
#include "model/weight_matrix.h"

namespace compactor::cli {

struct BenchArgs {
    std::string model;                 // empty: default_model_path()
    std::string context;               // empty: the bundled examples/document.txt
    std::vector<int64_t> lengths = {1024, 2048, 4096, 8192};  // context tokens per measurement
    CompressionOptions compression;    // method and ratio are options; the other knobs keep their defaults
    int runs = 3;                      // measured runs per length, after one warm-up run
    int64_t decode_tokens = 128;       // tokens generated per decode measurement
    int64_t prefill_chunk = 512;
    int threads = 0;                   // 0: all cores
    WeightFormat weights = WeightFormat::quantized;
    bool skip_no_scorer_prefill = false;  // skip the baseline prefill without a scorer
    std::string dump_tokens;           // file to write the context token ids to, empty for none
    bool tokens_only = false;          // write --dump-tokens and stop before measuring
    bool json = false;
};

void add_bench_options(CLI::App& command, BenchArgs& args);

// Checks the ranges of the options CLI11 only parses; throws CliError.
void finish_bench_args(BenchArgs& args);

}  // namespace compactor::cli
