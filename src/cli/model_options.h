// Model options shared by `run`, `eval` and `bench`: weight format and threads.
#pragma once

#include <CLI/CLI.hpp>

#include "model/weight_matrix.h"

namespace compactor::cli {

// Add --weights quantized|quantized_int8|fp32 to `command`, writing into `format`; the
// option's help names `format`'s value as the default.
void add_weight_format_option(CLI::App& command, WeightFormat& format);

// Throw CliError unless `threads` is 0 (all cores) or 1 to 1024.
void check_thread_count(int threads);

}  // namespace compactor::cli
