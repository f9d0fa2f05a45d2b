// `compactor calibrate fit`: measure how compression raises the reference
// answers' NLL on a task suite and fit α, β of the quality curve per method.
#pragma once

#include "cli/calibrate_args.h"

namespace compactor::cli {

// Returns the process exit code; throws CliError for invalid options.
int calibrate_fit_command(const CalibrateFitArgs& args);

}  // namespace compactor::cli
