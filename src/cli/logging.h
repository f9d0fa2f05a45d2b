// Logging set-up of the command: every log line goes to stderr, so stdout
// carries only results (and stays pure JSON with --json).
#pragma once

#include <string>

namespace compactor::cli {

// Level names accepted by --log-level.
inline constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

void init_logging();
// `level` is one of kLogLevels (CLI11 checks it before this call).
void set_log_level(const std::string& level);

// Log a caught error; it is printed even when the level is "off", because it
// is the user's only explanation for the non-zero exit code.
void report_error(const std::string& message);

}  // namespace compactor::cli
