// compactor-test-libs: compactor_calibrate
// `compactor calibrate fit` end to end on the real model with two short
// RULER samples and two methods: fit-data.jsonl contains one line per sample
// with a point per kept fraction and method, the full-cache answer NLL is
// shared by every method, each method gets a calibration file tied to the
// model file, and a rerun resumes without measuring again.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "calibrate/calibration_file.h"
#include "calibrate/model_digest.h"
#include "integration/cli_process.h"

namespace compactor::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::vector<double> kKeptGrid{0.3, 0.6, 0.9};

std::vector<std::string> fit_args(const std::string& model, const fs::path& out) {
    return {"calibrate", "fit",       "--model",   model,        "--suite",     "ruler",
            "--tasks",   "niah_single_1", "--lengths", "512",    "--samples",   "2",
            "--methods", "compactor,knorm", "--kept-grid", "0.3,0.6,0.9", "--threads", "2",
            "--out",     out.string(), "--quiet"};
}

std::vector<json> read_json_lines(const fs::path& path) {
    std::vector<json> lines;
    for (const std::string& text : split_lines(read_file(path))) {
        if (!text.empty()) lines.push_back(json::parse(text));
    }
    return lines;
}

TEST(CalibrateFit, WritesDataAndFilesThenResumes) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;

    const ProcessResult first = run_compactor(fit_args(model, dir.path()));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const fs::path data_path = dir.path() / "fit-data.jsonl";
    const std::vector<json> lines = read_json_lines(data_path);
    ASSERT_EQ(lines.size(), 2u);

    for (const json& line : lines) {
        SCOPED_TRACE(line.value("sample_id", std::string("?")));
        EXPECT_GT(line.value("context_nll", 0.0), 0.0);
        EXPECT_GT(line.value("n_answer_tokens", int64_t{0}), 0);
        const json& points = line.at("points");
        ASSERT_TRUE(points.contains("compactor"));
        ASSERT_TRUE(points.contains("knorm"));

        // One full-cache measurement serves every method and kept fraction.
        const double nll_full = points["compactor"].at(0).at("answer_nll_full").get<double>();
        EXPECT_GT(nll_full, 0.0);
        for (const char* method : {"compactor", "knorm"}) {
            ASSERT_EQ(points[method].size(), kKeptGrid.size()) << method;
            for (size_t i = 0; i < kKeptGrid.size(); ++i) {
                const json& point = points[method][i];
                EXPECT_EQ(point.at("answer_nll_full").get<double>(), nll_full) << method << " point " << i;
                EXPECT_GT(point.at("answer_nll_compressed").get<double>(), 0.0) << method << " point " << i;
                EXPECT_NEAR(point.at("kept_fraction").get<double>(), kKeptGrid[i], 0.05) << method << " point " << i;
            }
        }
    }

    const std::string sha256 = calibrate::file_sha256(model);
    const std::string stem = fs::path(model).stem().string();
    for (const char* method : {"compactor", "knorm"}) {
        const fs::path file = dir.path() / (stem + "." + method + ".per_layer.json");
        ASSERT_TRUE(fs::is_regular_file(file)) << file;
        const calibrate::Calibration calibration = calibrate::read_calibration(file.string());
        EXPECT_EQ(calibration.method, method);
        EXPECT_EQ(calibration.budget, "per_layer");
        EXPECT_EQ(calibration.model_sha256, sha256);
        EXPECT_EQ(calibration.n_samples, 2);
        EXPECT_EQ(calibration.points.size(), 2 * kKeptGrid.size());
        EXPECT_EQ(calibration.kept_grid, kKeptGrid);
    }

    // A rerun finds both samples in fit-data.jsonl and refits from them.
    const std::string data_before = read_file(data_path);
    const ProcessResult again = run_compactor(fit_args(model, dir.path()));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(read_file(data_path), data_before);
    EXPECT_NE(again.err.find("2 already in"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace compactor::test
