// summary.md: the evaluation's tables, rebuilt from the whole results.jsonl.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace compactor::eval {

// Facts about the invocation that writes the summary.
struct ReportContext {
    std::string command_line;  // as typed, arguments shell-quoted where needed
    std::string model_name;    // file name of the GGUF model
    uint64_t model_bytes = 0;
    std::string date;          // local time, "2025-01-31 14:05"
    std::string machine;       // CPU model
    int n_threads = 0;
    double wall_s = 0;         // this invocation, start to end
};

// The Markdown summary of `lines`: per suite, length and protocol, the
// average score ×100 per method and ratio with the full-cache score and the
// kept fraction, the same as a fraction of the full-cache score, and per-task
// tables for every ratio. Averages are over tasks.
std::string render_summary(const std::vector<nlohmann::json>& lines, const ReportContext& context);

}  // namespace compactor::eval
