// compactor-test-libs: compactor_engine
// `compactor inspect` and `compactor --version` on the real model.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "compactor/version.h"
#include "integration/cli_process.h"

namespace compactor::test {
namespace {

// The value of the report row labelled `label` ("label   value"), or "".
std::string row_value(const std::string& report, const std::string& label) {
    for (const std::string& line : split_lines(report)) {
        if (line.rfind(label + " ", 0) != 0) continue;
        const auto start = line.find_first_not_of(' ', label.size());
        return start == std::string::npos ? "" : line.substr(start);
    }
    return "";
}

TEST(CliInspect, RealModelIsLlamaWith30Layers) {
    const std::string model = real_model_path();
    ASSERT_TRUE(std::filesystem::is_regular_file(model)) << missing_model_message(model);

    const ProcessResult result = run_compactor({"inspect", model});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(row_value(result.out, "architecture"), "llama") << result.out;
    EXPECT_EQ(row_value(result.out, "block_count"), "30") << result.out;
    EXPECT_EQ(row_value(result.out, "head_count_kv"), "3") << result.out;
}

TEST(CliInspect, VersionFlag) {
    const ProcessResult result = run_compactor({"--version"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find(std::string("compactor ") + kVersion), std::string::npos) << result.out;
}

}  // namespace
}  // namespace compactor::test
