// Default locations of the model file and of the bundled example.
#pragma once

#include <filesystem>
#include <string>

namespace compactor::cli {

// ${COMPACTOR_CACHE:-$HOME/.cache/compactor}/models/SmolLM2-135M-Instruct.Q4_1.gguf,
// where scripts/fetch_model.sh stores it.
std::string default_model_path();

// The examples/ folder: $COMPACTOR_EXAMPLES, else ../../examples next to the
// executable (build/bin/compactor in a source tree), else the source tree the
// binary was built from. Throws CliError when none exists.
std::filesystem::path find_examples_dir();

}  // namespace compactor::cli
