// The options that choose evaluation samples (--suite, --lengths, --samples,
// --tasks, --data-dir, --seed), shared by `eval` and `calibrate fit`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "eval/eval_samples.h"

namespace compactor::cli {

struct SelectionArgs {
    std::string suite = "ruler";
    std::string lengths;   // comma list of token counts
    int64_t samples = 1;   // per task and length
    std::string tasks;     // empty: every task of the suite
    std::string data_dir;  // empty: find_data_dir()
    uint64_t seed = 0;     // also seeds the Gaussian sketch and the random method
};

// SelectionArgs with a command's default --lengths and --samples.
inline SelectionArgs selection_defaults(std::string lengths, int64_t samples) {
    SelectionArgs args;
    args.lengths = std::move(lengths);
    args.samples = samples;
    return args;
}

// Registers the six options. `samples_help` is the command's help text for
// --samples.
void add_selection_options(CLI::App& command, SelectionArgs& args, const std::string& samples_help);

// Checks and parses the options, and throws CliError naming the value and
// the fix. data_dir is copied as typed, because each command resolves it
// when it runs.
eval::SampleSelection parse_selection(const SelectionArgs& args);

// Parses --lengths ("2048,4096") into positive token counts; throws CliError.
std::vector<int64_t> parse_lengths(const std::string& list);
// Parses --tasks; empty means every task. Throws CliError for an empty item.
std::vector<std::string> parse_tasks(const std::string& list);

}  // namespace compactor::cli
