#include "cli/eval_paths.h"

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "cli/cli_error.h"
#include "cli/default_paths.h"

namespace compactor::cli {

namespace {

namespace fs = std::filesystem;

bool is_data_dir(const fs::path& dir) {
    std::error_code error;
    return fs::is_directory(dir, error);
}

}  // namespace

std::string find_data_dir() {
    std::error_code error;
    const fs::path executable = fs::read_symlink("/proc/self/exe", error);
    if (!error) {
        const fs::path beside_build = executable.parent_path() / ".." / ".." / ".." / "shared" / "data";
        if (is_data_dir(beside_build)) return fs::weakly_canonical(beside_build, error).string();
    }

#ifdef COMPACTOR_SOURCE_DIR
    const fs::path in_source = fs::path(COMPACTOR_SOURCE_DIR) / ".." / "shared" / "data";
    if (is_data_dir(in_source)) return fs::weakly_canonical(in_source, error).string();
#endif
    return "";
}

std::string checked_model_path(const std::string& requested) {
    const std::string path = requested.empty() ? default_model_path() : requested;
    std::error_code error;
    if (fs::is_directory(path, error)) {
        throw CliError(fmt::format("model path {} is a directory; pass --model with a .gguf file", path));
    }
    if (!fs::is_regular_file(path, error)) {
        throw CliError(fmt::format("model file not found: {} (run scripts/fetch_model.sh or pass --model PATH)", path));
    }
    return path;
}

std::string checked_data_dir(const std::string& requested) {
    if (requested.empty()) return find_data_dir();
    std::error_code error;
    if (!fs::is_directory(requested, error)) {
        throw CliError(fmt::format("--data-dir {} is not a folder; pass the evaluation data folder (the one with "
                                   "haystack/, qa/ and longbench/)",
                                   requested));
    }
    return requested;
}

}  // namespace compactor::cli
