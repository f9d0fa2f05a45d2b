// Default location of the evaluation data folder, and checks of the model
// and data paths that `eval` and `calibrate fit` share.
#pragma once

#include <string>

namespace compactor::cli {

// The data folder beside the source tree (../shared/data from the repository
// root), looked up next to the executable (build/bin/compactor) and then in
// the source tree the binary was built from. Empty when neither exists.
std::string find_data_dir();

// --model, or default_model_path() when empty; throws CliError when it is a
// folder or missing, naming the fix.
std::string checked_model_path(const std::string& requested);

// --data-dir, or find_data_dir() when empty; throws CliError when the given
// path is not a folder.
std::string checked_data_dir(const std::string& requested);

}  // namespace compactor::cli
