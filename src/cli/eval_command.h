// `compactor eval`: score compression methods and ratios on RULER-style and
// real-document tasks, one prefill per sample, into results.jsonl,
// summary.md and score_vs_ratio.png/.svg.
#pragma once

#include "cli/eval_args.h"

namespace compactor::cli {

// Returns the process exit code; throws CliError, eval::PlotError (after
// results.jsonl and summary.md are written) or the engine's exceptions.
int eval_command(const EvalArgs& args);

}  // namespace compactor::cli
