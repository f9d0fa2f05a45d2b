// Locations the tests read from: committed golden files and the real model.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace compactor::test {

inline std::string golden_path(const std::string& name) {
    return std::string(COMPACTOR_GOLDEN_DIR) + "/" + name;
}

// The default model as scripts/fetch_model.sh caches it; COMPACTOR_MODEL
// overrides the path.
inline std::string real_model_path() {
    if (const char* env = std::getenv("COMPACTOR_MODEL"); env && *env) return env;
    std::string cache;
    if (const char* c = std::getenv("COMPACTOR_CACHE"); c && *c) {
        cache = c;
    } else {
        const char* home = std::getenv("HOME");
        cache = std::string(home ? home : ".") + "/.cache/compactor";
    }
    return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

// The evaluation data folder next to the repository (haystack prose, QA sets,
// word lists), or an empty string when it is not there. Tests that need it
// skip with GTEST_SKIP when this is empty.
inline std::string shared_data_dir() {
    const std::string dir = std::string(COMPACTOR_SOURCE_DIR) + "/../shared/data";
    return std::filesystem::is_directory(dir) ? dir : std::string();
}

}  // namespace compactor::test
