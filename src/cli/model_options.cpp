#include "cli/model_options.h"

#include <map>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "cli/cli_error.h"

namespace compactor::cli {

void add_weight_format_option(CLI::App& command, WeightFormat& format) {
    const std::map<std::string, WeightFormat> names{{"quantized", WeightFormat::quantized},
                                                    {"quantized_int8", WeightFormat::quantized_int8},
                                                    {"fp32", WeightFormat::fp32}};
    // A string option checked against the names, so help and errors show
    // the names rather than the enum's numbers.
    command
        .add_option_function<std::string>(
            "--weights", [&format, names](const std::string& name) { format = names.at(name); },
            fmt::format("Weight format in memory: quantized keeps Q4_0/Q4_1/Q8_0 matrices in their GGUF blocks and "
                        "multiplies them with fp32 activations; quantized_int8 also rounds decode activations to "
                        "int8 as llama.cpp does (answers can change); fp32 dequantizes every matrix at load (about "
                        "5× the memory). Default: {}",
                        to_string(format)))
        ->check(CLI::IsMember({"quantized", "quantized_int8", "fp32"}));
}

void check_thread_count(int threads) {
    // 1024 is far above any core count this CPU engine is meant for; more
    // threads than that only add scheduling overhead.
    if (threads < 0 || threads > 1024) {
        throw CliError(fmt::format("--threads {} is invalid; use 0 for all cores ({} here) or a count from 1 to 1024",
                                   threads, std::thread::hardware_concurrency()));
    }
}

}  // namespace compactor::cli
