#include "cli/logging.h"

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace compactor::cli {

void init_logging() {
    auto logger = spdlog::stderr_color_mt("compactor");
    logger->set_pattern("%^%l%$: %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::info);
}

void set_log_level(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

void report_error(const std::string& message) {
    if (spdlog::should_log(spdlog::level::err)) {
        spdlog::error("{}", message);
    } else {
        fmt::print(stderr, "error: {}\n", message);
    }
}

}  // namespace compactor::cli
