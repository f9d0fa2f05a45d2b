#include "cli/bench_system.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include <cblas.h>
#include <fmt/format.h>

namespace compactor::cli {

namespace {

// The instruction-set flags that decide which kernels can run: the ones GEMM
// libraries and llama.cpp dispatch on.
constexpr const char* kSimdFlags[] = {"sse4_2",      "avx",        "f16c",        "fma",      "avx2",
                                      "avx_vnni",    "avx512f",    "avx512bw",    "avx512vl", "avx512_vnni",
                                      "avx512_bf16", "avx512_fp16", "amx_tile",    "amx_int8", "amx_bf16"};

// The value after "key<tabs>: " on the first line of /proc/cpuinfo that starts with key.
std::string cpuinfo_field(const std::string& key) {
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind(key, 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const auto start = line.find_first_not_of(' ', colon + 1);
        return start == std::string::npos ? "" : line.substr(start);
    }
    return "";
}

std::string compiler_name() {
#if defined(__clang__)
    return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
    return fmt::format("g++ {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
    return "unknown";
#endif
}

}  // namespace

SystemInfo read_system_info() {
    SystemInfo info;
    info.cpu_model = cpuinfo_field("model name");
    if (info.cpu_model.empty()) info.cpu_model = "unknown";

    std::istringstream flag_words(cpuinfo_field("flags"));
    const std::vector<std::string> present{std::istream_iterator<std::string>(flag_words),
                                           std::istream_iterator<std::string>()};
    for (const char* flag : kSimdFlags) {
        if (std::find(present.begin(), present.end(), flag) != present.end()) info.cpu_flags.emplace_back(flag);
    }

    info.compiler = compiler_name();
    info.blas = fmt::format("{} (core {})", openblas_get_config(), openblas_get_corename());
    return info;
}

}  // namespace compactor::cli
