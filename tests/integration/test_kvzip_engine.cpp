// compactor-test-libs: compactor_engine
// The query-statistics methods on the real model: `compactor run --method
// kvzip` and `--method expected_attention` on the bundled document, and
// kvzip's second pass through the C++ API on a short document.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compactor/engine.h"
#include "integration/cli_process.h"

namespace compactor::test {
namespace {

using nlohmann::json;

constexpr const char* kQuestion = "Which county does the waterman's weaver friend come from?";

json run_method_json(const std::string& method) {
    const std::string model = real_model_path();
    const ProcessResult result =
        run_compactor({"run", "--json", "--method", method, "--question", kQuestion, "--max-tokens", "12", "--model",
                       model});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    try {
        return json::parse(result.out);
    } catch (const json::parse_error& e) {
        ADD_FAILURE() << "stdout is not one JSON object: " << e.what() << "\nstdout:\n" << result.out;
        return json::object();
    }
}

// The fields every run of these methods must report.
void expect_half_kept_with_answer(const json& report, const std::string& method) {
    EXPECT_EQ(report.value("method", ""), method);
    EXPECT_GE(report.value("n_context_tokens", int64_t{0}), 3000);
    EXPECT_NEAR(report.value("kept_fraction", 0.0), 0.5, 0.01);
    const double bytes_full = report.value("kv_bytes_full", 0.0);
    ASSERT_GT(bytes_full, 0.0);
    EXPECT_NEAR(report.value("kv_bytes_compressed", 0.0) / bytes_full, 0.5, 0.01);

    ASSERT_TRUE(report.contains("answers"));
    ASSERT_EQ(report["answers"].size(), 1u);
    EXPECT_FALSE(report["answers"][0].value("answer_compressed", "").empty());
    EXPECT_FALSE(report["answers"][0].value("answer_full", "").empty());
}

TEST(QueryStatsCli, KvzipRunsSecondPass) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);

    const json report = run_method_json("kvzip");
    expect_half_kept_with_answer(report, "kvzip");
    const json& timings = report["timings"];
    EXPECT_GT(timings.value("prefill_s", 0.0), 0.0);
    EXPECT_GT(timings.value("second_pass_s", 0.0), 0.0);
    std::printf("kvzip: prefill %.2f s, second pass %.2f s, scoring %.3f s\n", timings.value("prefill_s", 0.0),
                timings.value("second_pass_s", 0.0), timings.value("score_s", 0.0));
}

TEST(QueryStatsCli, ExpectedAttentionNeedsNoSecondPass) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);

    const json report = run_method_json("expected_attention");
    expect_half_kept_with_answer(report, "expected_attention");
    const json& timings = report["timings"];
    EXPECT_GT(timings.value("score_s", 0.0), 0.0);
    EXPECT_EQ(timings.value("second_pass_s", -1.0), 0.0);
    std::printf("expected_attention: prefill %.2f s, scoring %.3f s\n", timings.value("prefill_s", 0.0),
                timings.value("score_s", 0.0));
}

TEST(QueryStatsEngine, KvzipSessionKeepsFullCacheAndCompresses) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);
    const Engine engine(model, 0);

    // The first lines of the bundled document.
    const std::vector<std::string> lines =
        split_lines(read_file(std::string(COMPACTOR_SOURCE_DIR) + "/examples/document.txt"));
    std::string document;
    for (size_t i = 0; i < 30 && i < lines.size(); ++i) document += lines[i] + "\n";

    DocumentOptions options;
    options.compression.method = "kvzip";
    options.compression.budget = BudgetMode::per_head;
    const DocumentSession full = engine.open_document(document, options);
    const int64_t n = full.n_context_tokens();
    const ModelConfig& config = engine.config();
    EXPECT_EQ(full.cache().total_rows(), static_cast<int64_t>(config.n_layer) * config.n_head_kv * n);

    DocumentSession compressed = full;
    const CompressionReport report = compressed.compress(options.compression);
    EXPECT_FALSE(report.skipped);
    EXPECT_GT(report.second_pass_s, 0.0);
    EXPECT_NEAR(report.kept_fraction, 0.5, 0.01);
    for (int il = 0; il < config.n_layer; ++il) {
        for (int h = 0; h < config.n_head_kv; ++h) {
            EXPECT_NEAR(static_cast<double>(compressed.cache().length(il, h)), n / 2.0, 1.0);
        }
    }

    // The repetition ran on a copy, so the full session still contains every row.
    EXPECT_EQ(full.cache().total_rows(), static_cast<int64_t>(config.n_layer) * config.n_head_kv * n);
    EXPECT_EQ(full.cache().next_pos(), n);

    const Answer answer = compressed.answer(kQuestion, {8, {}});
    EXPECT_GT(answer.n_generated_tokens, 0);
}

}  // namespace
}  // namespace compactor::test
