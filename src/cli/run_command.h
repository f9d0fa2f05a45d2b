// `compactor run`: prefill a document once, compress a copy of its KV cache,
// and answer each question from the full and from the compressed cache.
#pragma once

#include "cli/run_args.h"

namespace compactor::cli {

// Returns the process exit code; throws CliError or the engine's exceptions.
int run_command(RunArgs args);

}  // namespace compactor::cli
