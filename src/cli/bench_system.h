// Facts about the machine and build that a benchmark record must state.
#pragma once

#include <string>
#include <vector>

namespace compactor::cli {

struct SystemInfo {
    std::string cpu_model;               // /proc/cpuinfo "model name", "unknown" elsewhere
    std::vector<std::string> cpu_flags;  // SIMD flags among kSimdFlags that the CPU reports
    std::string compiler;                // compiler and version this binary was built with
    std::string blas;                    // OpenBLAS build configuration and the core it selected
};

SystemInfo read_system_info();

}  // namespace compactor::cli
