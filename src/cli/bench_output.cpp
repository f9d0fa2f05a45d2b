// Text and JSON reports of `compactor bench`.
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/bench_result.h"
#include "engine/json_text.h"

namespace compactor::cli {

namespace {

using nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;

// The figures every length reports, each a function of one run. Rates are
// per second, and percentages are of the same run's prefill time.
struct Figure {
    const char* key;    // JSON field
    const char* label;  // text report
    const char* unit;
    std::function<double(const BenchRun&)> value;
};

std::vector<Figure> figures(const LengthResult& length, int64_t decode_tokens) {
    const auto n_tokens = static_cast<double>(length.n_tokens);
    const auto n_decode = static_cast<double>(decode_tokens);
    std::vector<Figure> list = {
        {"prefill_tokens_per_s", "prefill", "tokens/s", [=](const BenchRun& r) { return n_tokens / r.prefill_s; }},
        {"prefill_s", "prefill time", "s", [](const BenchRun& r) { return r.prefill_s; }},
        {"prefill_gflop_per_s", "prefill compute", "GFLOP/s",
         [&length](const BenchRun& r) { return length.prefill_flop / r.prefill_s / 1e9; }},
    };
    if (length.no_scorer_measured()) {
        list.push_back({"prefill_no_scorer_tokens_per_s", "prefill, no scorer", "tokens/s",
                        [=](const BenchRun& r) { return n_tokens / r.prefill_no_scorer_s; }});
    }
    if (length.second_pass_measured()) {
        list.push_back({"second_pass_s", "second pass time", "s", [](const BenchRun& r) { return r.second_pass_s; }});
        list.push_back({"second_pass_percent", "second pass", "% of prefill",
                        [](const BenchRun& r) { return 100.0 * r.second_pass_s / r.prefill_s; }});
    }
    const std::vector<Figure> rest = {
        {"observe_s", "observe() time", "s", [](const BenchRun& r) { return r.observe_s; }},
        {"observe_percent", "observe() in prefill", "% of prefill",
         [](const BenchRun& r) { return 100.0 * r.observe_s / r.prefill_s; }},
        {"score_s", "scoring time", "s", [](const BenchRun& r) { return r.score_s; }},
        {"score_percent", "scoring", "% of prefill", [](const BenchRun& r) { return 100.0 * r.score_s / r.prefill_s; }},
        {"compact_s", "compaction time", "s", [](const BenchRun& r) { return r.compact_s; }},
        {"compact_percent", "compaction", "% of prefill",
         [](const BenchRun& r) { return 100.0 * r.compact_s / r.prefill_s; }},
        {"decode_full_tokens_per_s", "decode, full cache", "tokens/s",
         [=](const BenchRun& r) { return n_decode / r.decode_full_s; }},
        {"decode_compressed_tokens_per_s", "decode, compressed", "tokens/s",
         [=](const BenchRun& r) { return n_decode / r.decode_compressed_s; }},
        {"decode_speedup", "compressed / full", "x",
         [](const BenchRun& r) { return r.decode_full_s / r.decode_compressed_s; }},
    };
    list.insert(list.end(), rest.begin(), rest.end());
    return list;
}

double kept_fraction(const BenchRun& run) {
    return run.kv_rows_full > 0 ? static_cast<double>(run.kv_rows_compressed) / static_cast<double>(run.kv_rows_full)
                                : 1.0;
}

json spread_json(const Spread& s) { return {{"median", s.median}, {"min", s.min}, {"max", s.max}}; }

json run_json(const BenchRun& r) {
    json run = {
        {"prefill_s", r.prefill_s},         {"observe_s", r.observe_s},
        {"score_s", r.score_s},
        {"compact_s", r.compact_s},         {"decode_full_s", r.decode_full_s},
        {"decode_compressed_s", r.decode_compressed_s},
    };
    if (r.prefill_no_scorer_s >= 0) run["prefill_no_scorer_s"] = r.prefill_no_scorer_s;
    if (r.second_pass_s > 0) run["second_pass_s"] = r.second_pass_s;
    return run;
}

json length_json(const LengthResult& length, int64_t decode_tokens) {
    const BenchRun& first = length.runs.front();
    json out = {
        {"n_tokens", length.n_tokens},
        {"prefill_flop", length.prefill_flop},
        {"kv_bytes_full", first.kv_bytes_full},
        {"kv_bytes_compressed", first.kv_bytes_compressed},
        {"kept_fraction", kept_fraction(first)},
        {"peak_rss_bytes", length.peak.bytes},
        {"peak_rss_scope", length.peak.scope},
    };
    for (const Figure& figure : figures(length, decode_tokens)) {
        out[figure.key] = spread_json(length.spread(figure.value));
    }
    json runs = json::array();
    for (const BenchRun& run : length.runs) runs.push_back(run_json(run));
    out["runs"] = runs;
    return out;
}

std::string format_value(double value) {
    if (value >= 100.0) return fmt::format("{:.0f}", value);
    if (value >= 1.0) return fmt::format("{:.2f}", value);
    return fmt::format("{:.3g}", value);
}

void print_length_text(const LengthResult& length, int64_t decode_tokens) {
    fmt::print("\n{} context tokens (median [min, max] of {} run{})\n", length.n_tokens, length.runs.size(),
               length.runs.size() == 1 ? "" : "s");
    for (const Figure& figure : figures(length, decode_tokens)) {
        const Spread s = length.spread(figure.value);
        fmt::print("  {:<22}{:>10} {:<13}[{}, {}]\n", figure.label, format_value(s.median), figure.unit,
                   format_value(s.min), format_value(s.max));
    }
    const BenchRun& first = length.runs.front();
    fmt::print("  {:<22}{:>10} MiB full, {:.1f} MiB compressed, kept fraction {:.4f}\n", "KV cache",
               fmt::format("{:.1f}", first.kv_bytes_full / kMiB), first.kv_bytes_compressed / kMiB,
               kept_fraction(first));
    fmt::print("  {:<22}{:>10} MiB ({})\n", "peak resident memory", fmt::format("{:.1f}", length.peak.bytes / kMiB),
               length.peak.scope == "since_reset" ? "warm-up run: prefill, compression, decode"
                                                  : "whole process so far");
}

}  // namespace

void print_bench_text(const BenchResult& r) {
    fmt::print("model     {} ({}, {} thread{})\n", r.model_path, r.model_name.empty() ? "unnamed" : r.model_name,
               r.n_threads, r.n_threads == 1 ? "" : "s");
    fmt::print("weights   {:.1f} MiB in memory ({}), {:.1f} MiB file\n", r.weight_bytes / kMiB,
               to_string(r.weight_format), r.model_file_bytes / kMiB);
    fmt::print("machine   {} ({}), {}, {}\n", r.cpu_model, fmt::join(r.cpu_flags, " "), r.compiler, r.blas);
    fmt::print("settings  {} at ratio {:.2f}, {} decode tokens, prefill chunk {}, context from {}\n",
               r.compression.method, r.compression.ratio, r.decode_tokens, r.prefill_chunk, r.context_path);
    for (const LengthResult& length : r.lengths) print_length_text(length, r.decode_tokens);
}

void print_bench_json(const BenchResult& r) {
    json lengths = json::array();
    for (const LengthResult& length : r.lengths) lengths.push_back(length_json(length, r.decode_tokens));
    const json out = {
        {"model", r.model_path},
        {"model_name", r.model_name},
        {"context", r.context_path},
        {"n_threads", r.n_threads},
        {"method", r.compression.method},
        {"ratio", r.compression.ratio},
        {"runs", r.runs},
        {"decode_tokens", r.decode_tokens},
        {"prefill_chunk", r.prefill_chunk},
        {"model_file_bytes", r.model_file_bytes},
        {"weight_format", to_string(r.weight_format)},
        {"weight_bytes", r.weight_bytes},
        {"cpu", {{"model", r.cpu_model}, {"flags", r.cpu_flags}}},
        {"compiler", r.compiler},
        {"blas", r.blas},
        {"lengths", lengths},
    };
    std::cout << json_text(out, 2) << std::endl;
}

}  // namespace compactor::cli
