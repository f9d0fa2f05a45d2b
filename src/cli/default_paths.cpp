#include "cli/default_paths.h"

#include <cstdlib>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/cli_error.h"

namespace compactor::cli {

namespace {

namespace fs = std::filesystem;

bool has_examples(const fs::path& dir) {
    std::error_code error;
    return fs::is_regular_file(dir / "questions.txt", error);
}

std::string env_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

}  // namespace

std::string default_model_path() {
    std::string cache = env_or_empty("COMPACTOR_CACHE");
    if (cache.empty()) {
        const std::string home = env_or_empty("HOME");
        cache = (home.empty() ? std::string(".") : home) + "/.cache/compactor";
    }
    return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

fs::path find_examples_dir() {
    if (const std::string from_env = env_or_empty("COMPACTOR_EXAMPLES"); !from_env.empty()) {
        if (!has_examples(from_env)) {
            throw CliError(fmt::format("COMPACTOR_EXAMPLES={} has no questions.txt; point it to the examples/ "
                                       "folder or unset it",
                                       from_env));
        }
        return from_env;
    }

    std::error_code error;
    const fs::path executable = fs::read_symlink("/proc/self/exe", error);
    if (!error) {
        const fs::path beside_build = executable.parent_path() / ".." / ".." / "examples";
        if (has_examples(beside_build)) return fs::weakly_canonical(beside_build, error);
    }

#ifdef COMPACTOR_SOURCE_DIR
    const fs::path in_source = fs::path(COMPACTOR_SOURCE_DIR) / "examples";
    if (has_examples(in_source)) return in_source;
#endif

    throw CliError("the bundled examples/ folder was not found; set COMPACTOR_EXAMPLES to it, or pass "
                   "--context FILE and --question TEXT");
}

fs::path find_calibration_dir() {
    std::error_code error;
    if (const std::string from_env = env_or_empty("COMPACTOR_CALIBRATION_DIR"); !from_env.empty()) {
        if (!fs::is_directory(from_env, error)) {
            throw CliError(fmt::format("COMPACTOR_CALIBRATION_DIR={} is not a folder; point it to the calibration/ "
                                       "folder or unset it",
                                       from_env));
        }
        return from_env;
    }

    const fs::path executable = fs::read_symlink("/proc/self/exe", error);
    if (!error) {
        const fs::path beside_build = executable.parent_path() / ".." / ".." / "calibration";
        if (fs::is_directory(beside_build, error)) return fs::weakly_canonical(beside_build, error);
    }

#ifdef COMPACTOR_SOURCE_DIR
    const fs::path in_source = fs::path(COMPACTOR_SOURCE_DIR) / "calibration";
    if (fs::is_directory(in_source, error)) return in_source;
#endif
    return {};
}

}  // namespace compactor::cli
