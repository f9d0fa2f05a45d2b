// `compactor inspect MODEL.gguf`: print the GGUF file's metadata and tensors.
#pragma once

#include <string>

namespace compactor::cli {

// Returns the process exit code; throws CliError for a missing file and the
// GGUF reader's errors for a malformed one.
int inspect_command(const std::string& model_path);

}  // namespace compactor::cli
