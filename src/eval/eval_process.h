// Running a helper program (gnuplot) and collecting what it prints.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace compactor::eval {

struct ProcessOutput {
    int exit_code = -1;  // 128 + signal number when a signal ended it
    std::string output;  // stdout and stderr together
};

// Run argv[0] (looked up in PATH) with `argv` in folder `cwd`, stdin empty,
// and wait for it. Throws std::system_error with the spawn's error code
// (ENOENT when the program is not installed) when it cannot start.
ProcessOutput run_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd);

}  // namespace compactor::eval
