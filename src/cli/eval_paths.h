// Default location of the evaluation data folder.
#pragma once

#include <string>

namespace compactor::cli {

// The data folder beside the source tree (../shared/data from the repository
// root), looked up next to the executable (build/bin/compactor) and then in
// the source tree the binary was built from. Empty when neither exists.
std::string find_data_dir();

}  // namespace compactor::cli
