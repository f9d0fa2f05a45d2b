// compactor-test-libs: compactor_engine
// `compactor` rejects bad input with a non-zero exit code and one "error:"
// line that names the value and what to do; it never crashes.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/cli_process.h"

namespace compactor::test {
namespace {

// The first stderr line that starts with "error: ", or "" when none does.
std::string error_line(const ProcessResult& result) {
    for (const std::string& line : split_lines(result.err)) {
        if (line.rfind("error: ", 0) == 0) return line;
    }
    return "";
}

// A failed run: exit code 1, nothing on stdout, and an error line containing
// every one of `fragments`.
void expect_error(const ProcessResult& result, const std::vector<std::string>& fragments) {
    EXPECT_EQ(result.exit_code, 1) << "stderr:\n" << result.err;
    EXPECT_TRUE(result.out.empty()) << "stdout:\n" << result.out;
    const std::string line = error_line(result);
    ASSERT_FALSE(line.empty()) << "no 'error: ' line in stderr:\n" << result.err;
    for (const std::string& fragment : fragments) {
        EXPECT_NE(line.find(fragment), std::string::npos) << "'" << fragment << "' missing from: " << line;
    }
}

std::string model_or_fail() {
    const std::string model = real_model_path();
    if (!std::filesystem::is_regular_file(model)) ADD_FAILURE() << missing_model_message(model);
    return model;
}

TEST(CliErrors, MissingModel) {
    const ProcessResult result = run_compactor({"run", "--model", "/nonexistent/x.gguf"});
    expect_error(result, {"model file not found: /nonexistent/x.gguf", "scripts/fetch_model.sh", "--model PATH"});
}

TEST(CliErrors, MissingDefaultModelNamesCache) {
    TempDir cache;
    const ProcessResult result = run_compactor({"run"}, "COMPACTOR_CACHE=" + shell_quote(cache.path().string()));
    expect_error(result, {"model file not found: " + cache.path().string() + "/models/", "scripts/fetch_model.sh"});
}

TEST(CliErrors, MissingContextFile) {
    const ProcessResult result = run_compactor(
        {"run", "--model", model_or_fail(), "--context", "/nonexistent/doc.txt", "--question", "Why?"});
    expect_error(result, {"context file not found: /nonexistent/doc.txt", "--context FILE"});
}

TEST(CliErrors, ContextWithoutQuestion) {
    TempDir dir;
    const auto context = dir.file("doc.txt", "Some text.\n");
    const ProcessResult result = run_compactor({"run", "--model", model_or_fail(), "--context", context.string()});
    expect_error(result, {"--question TEXT"});
}

TEST(CliErrors, RatioOutOfRange) {
    const ProcessResult result = run_compactor({"run", "--model", model_or_fail(), "--ratio", "1.5"});
    expect_error(result, {"ratio 1.5", "[0, 1)"});
}

TEST(CliErrors, UnknownMethod) {
    const ProcessResult result = run_compactor({"run", "--model", model_or_fail(), "--method", "magic"});
    expect_error(result, {"magic", "compactor"});
}

TEST(CliErrors, EmptyDocument) {
    TempDir dir;
    const auto context = dir.file("empty.txt", " \n\t\n");
    const ProcessResult result =
        run_compactor({"run", "--model", model_or_fail(), "--context", context.string(), "--question", "Why?"});
    expect_error(result, {"is empty", context.string()});
}

TEST(CliErrors, DocumentLongerThanContext) {
    // About 20,000 tokens of prose, well past SmolLM2's 8,192-token context.
    std::string text;
    for (int i = 0; i < 1200; ++i) {
        text += "The river ran past the old mill, and the miller counted sacks of grain until dusk. ";
    }
    TempDir dir;
    const auto context = dir.file("long.txt", text);
    const ProcessResult result =
        run_compactor({"run", "--model", model_or_fail(), "--context", context.string(), "--question", "Why?"});
    expect_error(result, {"tokens", "exceeds the model's context of 8192 tokens", "shorten the document"});
}

TEST(CliErrors, UnknownOptionRejected) {
    const ProcessResult result = run_compactor({"run", "--bogus-option"});
    expect_error(result, {"--bogus-option", "--help"});
}

TEST(CliErrors, UnparsableValueRejected) {
    const ProcessResult result = run_compactor({"run", "--ratio", "abc"});
    expect_error(result, {"--ratio", "abc"});
}

TEST(CliErrors, InvalidBudgetRejected) {
    const ProcessResult result = run_compactor({"run", "--budget", "per_token"});
    expect_error(result, {"--budget 'per_token'", "per_head or per_layer"});
}

TEST(CliErrors, OutOfRangeCountsRejected) {
    const std::vector<std::vector<std::string>> cases = {
        {"--threads", "-3", "0 for all cores"},
        {"--max-tokens", "0", "at least 1 token"},
        {"--prefill-chunk", "0", "positive token count"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c[0] + " " + c[1]);
        const ProcessResult result = run_compactor({"run", c[0], c[1]});
        expect_error(result, {c[0] + " " + c[1] + " is invalid", c[2]});
    }
}

TEST(CliErrors, EmptyQuestionRejected) {
    TempDir dir;
    const auto context = dir.file("doc.txt", "Some text.\n");
    const ProcessResult result =
        run_compactor({"run", "--model", model_or_fail(), "--context", context.string(), "--question", " "});
    expect_error(result, {"--question is empty"});
}

TEST(CliErrors, MaxTokensBeyondContextNamesOption) {
    TempDir dir;
    const auto context = dir.file("doc.txt", "Some text.\n");
    const ProcessResult result = run_compactor(
        {"run", "--model", model_or_fail(), "--context", context.string(), "--question", "Why?", "--max-tokens", "100000"});
    expect_error(result, {"leave no room", "--max-tokens"});
}

TEST(CliErrors, DirectoryAsModelRejected) {
    TempDir dir;
    const ProcessResult result = run_compactor({"run", "--model", dir.path().string()});
    expect_error(result, {"is a directory", "--model"});
}

TEST(CliErrors, MissingSubcommandRejected) {
    const ProcessResult result = run_compactor({});
    expect_error(result, {"subcommand", "--help"});
}

TEST(CliErrors, InspectMissingFile) {
    const ProcessResult result = run_compactor({"inspect", "/nonexistent/y.gguf"});
    expect_error(result, {"model file not found: /nonexistent/y.gguf"});
}

TEST(CliErrors, InspectNotGguf) {
    TempDir dir;
    const auto not_gguf = dir.file("fake.gguf", "this is not a GGUF file at all, just text\n");
    const ProcessResult result = run_compactor({"inspect", not_gguf.string()});
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_FALSE(error_line(result).empty()) << result.err;
}

}  // namespace
}  // namespace compactor::test
