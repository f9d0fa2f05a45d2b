// compactor-test-libs: compactor_engine
// `compactor eval` end to end on the real model: a short RULER run writes
// results.jsonl, summary.md and the plots; ratio 0 answers equal the full
// cache's; a rerun adds nothing and a deleted line comes back; bad options
// exit 1 with one error line.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/cli_process.h"

namespace compactor::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Every field a results.jsonl line must carry.
const char* const kLineFields[] = {
    "sample_id",   "suite",          "task",        "length",        "n_context_tokens", "seed",
    "method",      "budget",         "ratio",       "protocol",      "metric",           "score",
    "prediction",  "references",     "kept_fraction", "kv_bytes",    "kv_bytes_full",    "prefill_s",
    "score_s",     "second_pass_s",  "compact_s",   "answer_prefill_s", "decode_s",      "n_generated",
    "stop_reason", "batch_size",     "reused_from", "model",         "model_bytes",      "version",
};

std::vector<std::string> short_run_args(const std::string& model, const fs::path& out) {
    return {"eval",      "--model", model,    "--suite",     "ruler",          "--tasks", "niah_single_1",
            "--lengths", "1024",    "--samples", "2",        "--methods",      "none,compactor",
            "--ratios",  "0,0.5",   "--out",  out.string(), "--quiet"};
}

std::vector<json> read_lines(const fs::path& path) {
    std::vector<json> lines;
    for (const std::string& text : split_lines(read_file(path))) {
        if (!text.empty()) lines.push_back(json::parse(text));
    }
    return lines;
}

// "sample_id method@ratio" of a line.
std::string key_of(const json& line) {
    return line.at("sample_id").get<std::string>() + " " + line.at("method").get<std::string>() + "@" +
           line.at("ratio").dump();
}

std::map<std::string, json> by_key(const std::vector<json>& lines) {
    std::map<std::string, json> keyed;
    for (const json& line : lines) keyed[key_of(line)] = line;
    return keyed;
}

void expect_lines(const std::vector<json>& lines) {
    ASSERT_EQ(lines.size(), 6u);
    for (const json& line : lines) {
        for (const char* field : kLineFields) EXPECT_TRUE(line.contains(field)) << "missing " << field << " in " << line;
        EXPECT_EQ(line.value("task", ""), "niah_single_1");
        EXPECT_EQ(line.value("length", 0), 1024);
        EXPECT_EQ(line.value("protocol", ""), "agnostic");
        EXPECT_EQ(line.value("model", ""), "SmolLM2-135M-Instruct.Q4_1.gguf");
        EXPECT_GT(line.value("n_context_tokens", 0), 500);
        EXPECT_LE(line.value("n_context_tokens", 0), 1024);
        EXPECT_GT(line.value("prefill_s", 0.0), 0.0);
    }

    const std::map<std::string, json> keyed = by_key(lines);
    for (const char* sample : {"niah_single_1/1024/0", "niah_single_1/1024/1"}) {
        const std::string id = sample;
        ASSERT_TRUE(keyed.count(id + " none@0.0")) << id;
        ASSERT_TRUE(keyed.count(id + " compactor@0.0")) << id;
        ASSERT_TRUE(keyed.count(id + " compactor@0.5")) << id;
        const json& none = keyed.at(id + " none@0.0");
        const json& whole = keyed.at(id + " compactor@0.0");
        const json& half = keyed.at(id + " compactor@0.5");

        EXPECT_TRUE(none["budget"].is_null());
        EXPECT_EQ(whole.value("budget", ""), "per_layer");
        EXPECT_DOUBLE_EQ(none.value("kept_fraction", 0.0), 1.0);
        EXPECT_EQ(none.value("kv_bytes", 0), none.value("kv_bytes_full", 1));

        // Ratio 0 keeps every row, so it shares the full cache's answer.
        EXPECT_DOUBLE_EQ(whole.value("kept_fraction", 0.0), 1.0);
        EXPECT_EQ(whole.value("prediction", "a"), none.value("prediction", "b"));
        EXPECT_DOUBLE_EQ(whole.value("score", -1.0), none.value("score", -2.0));
        EXPECT_EQ(whole.value("reused_from", ""), "none@0");

        EXPECT_NEAR(half.value("kept_fraction", 0.0), 0.5, 0.02);
        EXPECT_NEAR(static_cast<double>(half.value("kv_bytes", 0)) / half.value("kv_bytes_full", 1.0),
                    half.value("kept_fraction", 0.0), 1e-9);
        EXPECT_GT(half.value("score_s", 0.0), 0.0);
        EXPECT_TRUE(half["reused_from"].is_null());
        EXPECT_GE(half.value("batch_size", 0), 1);
        for (const json* line : {&none, &half}) {
            const double score = line->value("score", -1.0);
            EXPECT_GE(score, 0.0);
            EXPECT_LE(score, 1.0);
            EXPECT_GE(line->value("n_generated", 0), 1);
        }
    }
}

void expect_summary(const std::string& summary) {
    for (const char* text :
         {"# compactor eval", "--methods none,compactor", "SmolLM2-135M-Instruct.Q4_1.gguf",
          "## RULER, 1024 tokens, query-agnostic", "Full cache (none):", "| method | ratio 0 | ratio 0.5 |",
          "| compactor:per_layer | ", "### Fraction of the full-cache score", "### Per task at ratio 0.5",
          "| niah_single_1 | 2 | "}) {
        EXPECT_NE(summary.find(text), std::string::npos) << "missing '" << text << "' in:\n" << summary;
    }
}

void expect_plots(const fs::path& out) {
    const std::string png = read_file(out / "score_vs_ratio.png");
    ASSERT_GE(png.size(), 8u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_NE(read_file(out / "score_vs_ratio.svg").find("<svg"), std::string::npos);
}

void write_lines(const fs::path& path, const std::vector<json>& lines) {
    std::string text;
    for (const json& line : lines) text += line.dump() + "\n";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

TEST(CliEval, ShortRunOutputsAndResume) {
    const std::string model = real_model_path();
    ASSERT_TRUE(fs::is_regular_file(model)) << missing_model_message(model);
    TempDir dir;
    const fs::path out = dir.path() / "out";
    const fs::path results = out / "results.jsonl";

    // First run: six lines (2 samples × none@0, compactor@0, compactor@0.5).
    const ProcessResult first = run_compactor(short_run_args(model, out));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const std::vector<json> lines = read_lines(results);
    expect_lines(lines);
    expect_summary(read_file(out / "summary.md"));
    expect_plots(out);

    // A rerun finds every line and adds none.
    const ProcessResult rerun = run_compactor(short_run_args(model, out));
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(read_lines(results), lines);
    EXPECT_NE(rerun.err.find("no lines added"), std::string::npos) << rerun.err;

    // A deleted line is run again, and only it.
    const auto deleted = std::find_if(lines.begin(), lines.end(), [](const json& line) {
        return line.value("sample_id", "") == "niah_single_1/1024/1" && line.value("ratio", 0.0) == 0.5;
    });
    ASSERT_NE(deleted, lines.end());
    std::vector<json> kept_lines = lines;
    kept_lines.erase(kept_lines.begin() + (deleted - lines.begin()));
    write_lines(results, kept_lines);

    const ProcessResult restore = run_compactor(short_run_args(model, out));
    ASSERT_EQ(restore.exit_code, 0) << restore.err;
    const std::vector<json> restored = read_lines(results);
    ASSERT_EQ(restored.size(), 6u);
    EXPECT_EQ(std::vector<json>(restored.begin(), restored.begin() + 5), kept_lines);
    const json& again = restored.back();
    EXPECT_EQ(key_of(again), key_of(*deleted));
    EXPECT_EQ(again.value("kept_hash", "a"), deleted->value("kept_hash", "b"));
    EXPECT_DOUBLE_EQ(again.value("kept_fraction", 0.0), deleted->value("kept_fraction", 1.0));
    EXPECT_EQ(again.value("prediction", "a"), deleted->value("prediction", "b"));
    EXPECT_NE(again.value("run_id", "a"), deleted->value("run_id", "a"));

    // A truncated last line (a killed run) is dropped and run again.
    std::string text = read_file(results);
    text.resize(text.size() - 40);
    std::ofstream(results, std::ios::binary | std::ios::trunc) << text;
    const ProcessResult truncated = run_compactor(short_run_args(model, out));
    ASSERT_EQ(truncated.exit_code, 0) << truncated.err;
    EXPECT_NE(truncated.err.find("incomplete"), std::string::npos) << truncated.err;
    EXPECT_EQ(read_lines(results).size(), 6u);

    // Without gnuplot the results and summary stay, and the error names the package.
    fs::remove(out / "summary.md");
    const ProcessResult no_gnuplot = run_compactor(short_run_args(model, out), "PATH=/nonexistent");
    EXPECT_EQ(no_gnuplot.exit_code, 1) << no_gnuplot.err;
    EXPECT_NE(no_gnuplot.err.find("error: gnuplot is not installed"), std::string::npos) << no_gnuplot.err;
    EXPECT_NE(no_gnuplot.err.find("gnuplot-nox"), std::string::npos) << no_gnuplot.err;
    EXPECT_TRUE(fs::exists(out / "summary.md"));

    // --report-only rebuilds the summary and the plots and runs nothing.
    fs::remove(out / "summary.md");
    fs::remove(out / "score_vs_ratio.png");
    std::vector<std::string> report_args = short_run_args(model, out);
    report_args.push_back("--report-only");
    const ProcessResult report = run_compactor(report_args);
    ASSERT_EQ(report.exit_code, 0) << report.err;
    EXPECT_EQ(read_lines(results).size(), 6u);
    expect_summary(read_file(out / "summary.md"));
    expect_plots(out);
}

TEST(CliEval, OtherModelRejectedOnResume) {
    TempDir dir;
    const fs::path out = dir.path() / "out";
    fs::create_directories(out);
    write_lines(out / "results.jsonl",
                {{{"sample_id", "niah_single_1/1024/0"}, {"method", "none"}, {"budget", nullptr}, {"ratio", 0},
                  {"protocol", "agnostic"}, {"model", "other.gguf"}, {"model_bytes", 5}}});
    const std::string model = real_model_path();
    ASSERT_TRUE(fs::is_regular_file(model)) << missing_model_message(model);

    const ProcessResult result = run_compactor(short_run_args(model, out));
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find("error: "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("other.gguf"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("SmolLM2-135M-Instruct.Q4_1.gguf"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("--out"), std::string::npos) << result.err;
}

// The first stderr line that starts with "error: ", or "" when none does.
std::string error_line(const ProcessResult& result) {
    for (const std::string& line : split_lines(result.err)) {
        if (line.rfind("error: ", 0) == 0) return line;
    }
    return "";
}

// Exit code 1 and one error line holding every fragment.
void expect_error(const std::vector<std::string>& replaced, const std::vector<std::string>& fragments) {
    const std::string model = real_model_path();
    ASSERT_TRUE(fs::is_regular_file(model)) << missing_model_message(model);
    TempDir dir;
    std::vector<std::string> args = short_run_args(model, dir.path() / "out");
    // Each pair of `replaced` sets an option's value, or adds the option.
    for (size_t i = 0; i + 1 < replaced.size(); i += 2) {
        const auto option = std::find(args.begin(), args.end(), replaced[i]);
        if (option == args.end()) {
            args.push_back(replaced[i]);
            args.push_back(replaced[i + 1]);
        } else {
            *(option + 1) = replaced[i + 1];
        }
    }

    const ProcessResult result = run_compactor(args);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    const std::string line = error_line(result);
    ASSERT_FALSE(line.empty()) << "no 'error: ' line in stderr:\n" << result.err;
    for (const std::string& fragment : fragments) {
        EXPECT_NE(line.find(fragment), std::string::npos) << "'" << fragment << "' missing from: " << line;
    }
    EXPECT_FALSE(fs::exists(dir.path() / "out" / "results.jsonl"));
}

TEST(CliEval, RatioOutOfRange) { expect_error({"--ratios", "0,1.5"}, {"--ratios", "1.5", "[0, 1)"}); }

TEST(CliEval, UnknownMethod) { expect_error({"--methods", "none,bogus"}, {"--methods", "bogus", "compactor"}); }

TEST(CliEval, UnknownBudget) {
    expect_error({"--methods", "compactor:per_token"}, {"per_token", "compactor:per_head"});
}

TEST(CliEval, UnknownTask) { expect_error({"--tasks", "niah_bogus"}, {"niah_bogus", "niah_single_1"}); }

TEST(CliEval, LengthOverContext) { expect_error({"--lengths", "1024,9000"}, {"9000", "8192"}); }

TEST(CliEval, RealSuiteWithoutData) {
    TempDir empty;
    expect_error({"--suite", "real", "--tasks", "hotpotqa", "--data-dir", empty.path().string()}, {"--data-dir"});
}

TEST(CliEval, RulerTaskOutsideSuite) {
    const fs::path data_dir = fs::path(COMPACTOR_SOURCE_DIR) / ".." / "shared" / "data";
    if (!fs::is_directory(data_dir / "longbench")) GTEST_SKIP() << "no evaluation data at " << data_dir;
    expect_error({"--suite", "real", "--data-dir", data_dir.string()}, {"niah_single_1", "--suite ruler"});
}

TEST(CliEval, NoOutputFolder) {
    const ProcessResult result = run_compactor({"eval", "--methods", "none"});
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(error_line(result).find("--out"), std::string::npos) << result.err;
}

TEST(CliEval, ReportOnlyWithoutResults) {
    const std::string model = real_model_path();
    ASSERT_TRUE(fs::is_regular_file(model)) << missing_model_message(model);
    TempDir dir;
    std::vector<std::string> args = short_run_args(model, dir.path() / "out");
    args.push_back("--report-only");

    const ProcessResult result = run_compactor(args);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    const std::string line = error_line(result);
    EXPECT_NE(line.find("--report-only"), std::string::npos) << result.err;
    EXPECT_NE(line.find("results.jsonl"), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(dir.path() / "out"));
}

}  // namespace
}  // namespace compactor::test
