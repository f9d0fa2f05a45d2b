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

// The calibration/ folder of fitted calibration files:
// $COMPACTOR_CALIBRATION_DIR, else ../../calibration next to the executable,
// else the source tree's. Empty when none exists.
std::filesystem::path find_calibration_dir();

}  // namespace compactor::cli
