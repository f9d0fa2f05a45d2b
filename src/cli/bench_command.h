// `compactor bench`: prefill, scoring, compaction and decode speed, KV bytes
// and peak memory at several context lengths, each figure the median, min
// and max of several runs after a warm-up.
#pragma once

#include "cli/bench_args.h"

namespace compactor::cli {

// Returns the process exit code; throws CliError or the engine's exceptions.
int bench_command(BenchArgs args);

}  // namespace compactor::cli
