// compactor-test-libs: compactor_engine
// `compactor run` end to end on the real model: the JSON report of the
// bundled example, ratio 0 against the full cache, the text report and the
// repair of invalid UTF-8 in the JSON report.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/cli_process.h"

namespace compactor::test {
namespace {

using nlohmann::json;

std::vector<std::string> bundled_questions() {
    std::vector<std::string> questions;
    for (const std::string& line : split_lines(read_file(std::string(COMPACTOR_SOURCE_DIR) + "/examples/questions.txt"))) {
        if (!line.empty()) questions.push_back(line);
    }
    return questions;
}

json parse_stdout(const ProcessResult& result) {
    try {
        return json::parse(result.out);
    } catch (const json::parse_error& e) {
        ADD_FAILURE() << "stdout is not one JSON object: " << e.what() << "\nstdout:\n" << result.out;
        return json::object();
    }
}

TEST(CliRun, JsonReportOnBundledDocument) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);

    const ProcessResult result = run_compactor({"run", "--json", "--max-tokens", "24", "--model", model});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);

    for (const char* key : {"model", "n_context_tokens", "ratio", "kept_fraction", "method", "kv_bytes_full",
                            "kv_bytes_compressed", "timings", "prefill_tokens_per_s", "decode_tokens_per_s",
                            "answers"}) {
        EXPECT_TRUE(report.contains(key)) << "missing key " << key;
    }
    EXPECT_EQ(report.value("model", ""), model);
    EXPECT_EQ(report.value("method", ""), "compactor");
    EXPECT_EQ(report.value("weight_format", ""), "quantized");
    EXPECT_GT(report.value("weight_bytes", 0.0), 0.0);
    EXPECT_DOUBLE_EQ(report.value("ratio", -1.0), 0.5);

    // The bundled document is 3,000 to 6,000 tokens by design.
    const auto n_context_tokens = report.value("n_context_tokens", int64_t{0});
    EXPECT_GE(n_context_tokens, 3000);
    EXPECT_LE(n_context_tokens, 6000);

    // Memory actually freed: bytes kept within 1% of the requested kept fraction.
    const double bytes_full = report.value("kv_bytes_full", 0.0);
    const double bytes_compressed = report.value("kv_bytes_compressed", 0.0);
    ASSERT_GT(bytes_full, 0.0);
    EXPECT_NEAR(bytes_compressed / bytes_full, 0.5, 0.005);
    EXPECT_NEAR(report.value("kept_fraction", 0.0), bytes_compressed / bytes_full, 1e-9);

    const json& timings = report["timings"];
    for (const char* key : {"prefill_s", "score_s", "compact_s", "decode_s"}) {
        EXPECT_TRUE(timings.contains(key)) << "missing timing " << key;
        EXPECT_GE(timings.value(key, -1.0), 0.0) << key;
    }
    EXPECT_GT(timings.value("prefill_s", 0.0), 0.0);
    EXPECT_GT(timings.value("score_s", 0.0), 0.0);
    EXPECT_GT(report.value("prefill_tokens_per_s", 0.0), 0.0);
    EXPECT_GT(report.value("decode_tokens_per_s", 0.0), 0.0);

    const std::vector<std::string> questions = bundled_questions();
    const json& answers = report["answers"];
    ASSERT_EQ(answers.size(), questions.size());
    for (size_t i = 0; i < answers.size(); ++i) {
        EXPECT_EQ(answers[i].value("question", ""), questions[i]);
        EXPECT_FALSE(answers[i].value("answer_full", "").empty()) << "question " << i + 1;
        EXPECT_FALSE(answers[i].value("answer_compressed", "").empty()) << "question " << i + 1;
        EXPECT_LE(answers[i]["full"].value("n_generated_tokens", 0), 24);
        EXPECT_LE(answers[i]["compressed"].value("n_generated_tokens", 0), 24);
    }
}

// The first `n_lines` lines of the bundled document, a shorter context for
// the tests that need a prefill but not the whole document.
std::string bundled_document_head(size_t n_lines) {
    const std::vector<std::string> lines =
        split_lines(read_file(std::string(COMPACTOR_SOURCE_DIR) + "/examples/document.txt"));
    std::string head;
    for (size_t i = 0; i < std::min(n_lines, lines.size()); ++i) head += lines[i] + "\n";
    return head;
}

TEST(CliRun, RatioZeroKeepsAnswersIdentical) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);
    TempDir dir;
    const auto context = dir.file("head.txt", bundled_document_head(70));

    const ProcessResult result =
        run_compactor({"run", "--json", "--ratio", "0", "--max-tokens", "24", "--model", model, "--context",
                       context.string(), "--question", "What time is it, according to the waterman?", "--question",
                       "How clear is the water this morning?"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);

    EXPECT_DOUBLE_EQ(report.value("kept_fraction", 0.0), 1.0);
    EXPECT_EQ(report.value("kv_bytes_compressed", 0), report.value("kv_bytes_full", 1));
    const json& answers = report["answers"];
    ASSERT_EQ(answers.size(), 2u);
    for (const json& answer : answers) {
        EXPECT_FALSE(answer.value("answer_full", "").empty());
        EXPECT_EQ(answer.value("answer_full", "a"), answer.value("answer_compressed", "b"));
    }
}

TEST(CliRun, TextReportOnShortContext) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);
    TempDir dir;
    const auto context = dir.file("note.txt",
                                  "The lighthouse on Tern Island was painted red in 1911 by a keeper named "
                                  "Agnes Moreau. It stands forty metres tall and its lamp can be seen from "
                                  "twenty-two nautical miles away on a clear night.\n");

    const ProcessResult result = run_compactor({"run", "--model", model, "--context", context.string(), "--question",
                                                "Who painted the lighthouse?", "--max-tokens", "12", "--sink", "2",
                                                "--recent", "2"});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    for (const char* text : {"model", "document", "KV cache", "kept fraction", "prefill", "scoring", "compaction",
                             "decoding", "Q1  Who painted the lighthouse?", "full cache", "compressed cache"}) {
        EXPECT_NE(result.out.find(text), std::string::npos) << "missing '" << text << "' in:\n" << result.out;
    }
    // Logs go to stderr, so stdout carries no log lines.
    EXPECT_EQ(result.out.find("info: "), std::string::npos) << result.out;
}

// The report notes when protected tokens keep the cache from reaching the
// requested ratio, and when they leave nothing to compress.
TEST(CliRun, TextReportNotesProtectedTokens) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);
    TempDir dir;
    const auto context = dir.file("five.txt", "The cat sat on the mat.\n");
    const std::vector<std::string> base = {"run", "--model", model, "--context", context.string(),
                                           "--question", "Where is the cat?", "--max-tokens", "2"};

    std::vector<std::string> capped = base;
    capped.insert(capped.end(), {"--sink", "16", "--recent", "10"});
    const ProcessResult capped_result = run_compactor(capped);
    ASSERT_EQ(capped_result.exit_code, 0) << capped_result.err;
    EXPECT_NE(capped_result.out.find("note      kept"), std::string::npos) << capped_result.out;
    EXPECT_NE(capped_result.out.find("the 26 protected tokens"), std::string::npos) << capped_result.out;

    std::vector<std::string> skipped = base;
    skipped.insert(skipped.end(), {"--sink", "64", "--recent", "64"});
    const ProcessResult skipped_result = run_compactor(skipped);
    ASSERT_EQ(skipped_result.exit_code, 0) << skipped_result.err;
    EXPECT_NE(skipped_result.out.find("left uncompressed"), std::string::npos) << skipped_result.out;
}

// A question with invalid UTF-8 bytes still gives a JSON report: the bytes
// are written as U+FFFD, as are the bytes of a reply cut at --max-tokens.
TEST(CliRun, JsonReportRepairsInvalidUtf8) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);
    TempDir dir;
    const auto context = dir.file("five.txt", "The cat sat on the mat.\n");

    const ProcessResult result = run_compactor({"run", "--json", "--model", model, "--context", context.string(),
                                                "--question", "Where\xC3 is the cat?", "--max-tokens", "2"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);
    ASSERT_EQ(report["answers"].size(), 1u);
    EXPECT_EQ(report["answers"][0].value("question", ""), "Where\xEF\xBF\xBD is the cat?");
}

}  // namespace
}  // namespace compactor::test
