// Helpers the whole-engine benchmarks share: where the default model and the
// bundled document live, and a main() that turns exceptions into exit code 1.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

namespace compactor::bench {

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The model scripts/fetch_model.sh fetches.
inline std::string default_model_path() {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : ".") + "/.cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

inline std::string bundled_document() { return read_text(std::string(COMPACTOR_SOURCE_DIR) + "/examples/document.txt"); }

// Runs `run(argc, argv)` with warnings-only logging. An exception prints
// "name: what" on stderr and returns 1.
template <typename Run>
int bench_main(const char* name, int argc, char** argv, Run run) {
    spdlog::set_level(spdlog::level::warn);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return 1;
    }
}

}  // namespace compactor::bench
