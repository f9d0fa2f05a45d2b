// Runs the built `compactor` binary through the shell and captures its exit
// code, stdout and stderr, for the integration tests.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/paths.h"

namespace compactor::test {

struct ProcessResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Single-quoted for /bin/sh, so spaces and quotes in arguments survive.
inline std::string shell_quote(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

// A directory removed with its contents when the object goes out of scope.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "compactor-cli-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::filesystem::path file(const std::string& name, const std::string& content) const {
        const std::filesystem::path path = path_ / name;
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Run COMPACTOR_BINARY with `args` (each quoted) and `env_prefix` (for
// example "COMPACTOR_CACHE=/tmp/x", put before the command unquoted).
inline ProcessResult run_compactor(const std::vector<std::string>& args, const std::string& env_prefix = "") {
    TempDir capture;
    const std::filesystem::path err_path = capture.path() / "stderr.txt";
    std::string command = env_prefix.empty() ? "" : env_prefix + " ";
    command += shell_quote(COMPACTOR_BINARY);
    // Appended piece by piece: GCC 12 reports a false -Wrestrict for
    // `const char* + std::string&&` here.
    for (const std::string& arg : args) {
        command += ' ';
        command += shell_quote(arg);
    }
    command += " 2>";
    command += shell_quote(err_path.string());

    ProcessResult result;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) throw std::runtime_error("popen failed for: " + command);
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.err = read_file(err_path);
    return result;
}

// Message for a test that cannot find the real model.
inline std::string missing_model_message(const std::string& path) {
    return "the real model is missing at " + path +
           "; run scripts/fetch_model.sh (or set COMPACTOR_MODEL) before the integration tests";
}

// Lines of `text` without their newline characters.
inline std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace compactor::test
