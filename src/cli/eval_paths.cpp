#include "cli/eval_paths.h"

#include <filesystem>
#include <system_error>

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

}  // namespace compactor::cli
