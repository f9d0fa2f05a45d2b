// compactor-test-libs: compactor_calibrate
// `compactor run --quality` end to end on the real model. Covers the fitted
// choice against the closed form of its calibration file and the rejection of
// files made for another model, method or budget. Also covers the online
// binary search over kept fractions, option errors, and the context NLL
// fields of the JSON report.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "calibrate/calibration_file.h"
#include "calibrate/fitted_choice.h"
#include "calibrate/model_digest.h"
#include "compactor/online_calibration.h"
#include "integration/cli_process.h"
#include "integration/quality_checks.h"

namespace compactor::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The bundled document cut at the first paragraph break after `min_chars`
// characters, written to `dir`. The cut after 600 characters gives about 300
// tokens and the one after 1200 about 600.
fs::path short_document(const TempDir& dir, size_t min_chars) {
    const std::string text = read_file(std::string(COMPACTOR_SOURCE_DIR) + "/examples/document.txt");
    const size_t cut = text.find("\n\n", std::min(min_chars, text.size()));
    return dir.file("context.txt", text.substr(0, cut));
}

// `compactor run` on `context` with one question and 4 answer tokens, then `extra`.
std::vector<std::string> run_args(const std::string& model, const fs::path& context,
                                  const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run",          "--model", model, "--context",  context.string(),
                                     "--question",   "Where did the narrator go to swim?",
                                     "--max-tokens", "4",       "--threads", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

json parse_stdout(const ProcessResult& result) {
    try {
        return json::parse(result.out);
    } catch (const json::parse_error& e) {
        ADD_FAILURE() << "stdout is not one JSON object: " << e.what() << "\nstdout:\n" << result.out;
        return json::object();
    }
}

void expect_error_names(const ProcessResult& result, const std::vector<std::string>& words) {
    EXPECT_EQ(result.exit_code, 1) << "stdout:\n" << result.out << "\nstderr:\n" << result.err;
    // A wrong calibration is found before the document is prefilled.
    EXPECT_EQ(result.err.find("prefilling"), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
    for (const std::string& word : words) {
        EXPECT_NE(result.err.find(word), std::string::npos) << "stderr does not name '" << word << "':\n" << result.err;
    }
}

TEST(QualityRun, FittedChoiceFollowsCalibrationFile) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);
    CalibrationFor spec;
    spec.sha256 = calibrate::file_sha256(model);
    const fs::path calibration = write_calibration_file(dir.path() / "fit.json", spec);
    const double tau = 0.9;

    const ProcessResult result = run_compactor(
        run_args(model, context, {"--json", "--quality", "0.9", "--calibration", calibration.string()}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);
    ASSERT_TRUE(report.contains("quality"));
    const json& quality = report["quality"];
    ASSERT_TRUE(quality.is_object()) << report.dump(2);

    EXPECT_EQ(quality.value("calibration", ""), "fitted");
    EXPECT_EQ(quality.value("tau", 0.0), tau);
    EXPECT_EQ(quality.value("calibration_file", ""), calibration.string());
    EXPECT_EQ(quality.value("alpha", 0.0), spec.alpha);
    EXPECT_EQ(quality.value("beta", 0.0), spec.beta);
    EXPECT_GE(quality.value("seconds", -1.0), 0.0);

    // b comes from the context NLL the same run reports.
    ASSERT_TRUE(report["context_nll"].is_number()) << report["context_nll"];
    const double context_nll = report["context_nll"].get<double>();
    EXPECT_GT(context_nll, 0.0);
    EXPECT_GT(report.value("n_nll_tokens", int64_t{0}), 0);
    const double b = quality.value("b", 0.0);
    EXPECT_NEAR(b, spec.alpha * context_nll + spec.beta, 1e-12);

    const double kept_fraction = quality.value("kept_fraction", 0.0);
    EXPECT_NEAR(kept_fraction, closed_form_kept_fraction(tau, b), 1e-9);
    EXPECT_GT(kept_fraction, calibrate::kMinKeptFraction) << "pick alpha and beta so the kept fraction is not clamped";
    EXPECT_LT(kept_fraction, 1.0);
    EXPECT_NEAR(quality.value("ratio", -1.0), 1.0 - kept_fraction, 1e-12);

    // The applied ratio is the chosen one, and the cache shrank to it.
    EXPECT_NEAR(report.value("ratio", -1.0), 1.0 - kept_fraction, 1e-9);
    EXPECT_NEAR(report["compression"].value("ratio", -1.0), 1.0 - kept_fraction, 1e-9);
    EXPECT_EQ(report.value("method", ""), "compactor");
    EXPECT_NEAR(report.value("kept_fraction", 0.0), kept_fraction, 0.02);
    const double rows_full = report.value("kv_rows_full", 0.0);
    ASSERT_GT(rows_full, 0.0);
    EXPECT_NEAR(report.value("kv_rows_compressed", 0.0) / rows_full, report.value("kept_fraction", 0.0), 1e-9);
}

TEST(QualityRun, FittedTextReportShowsChoice) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);
    CalibrationFor spec;
    spec.sha256 = calibrate::file_sha256(model);
    const fs::path calibration = write_calibration_file(dir.path() / "fit.json", spec);

    const ProcessResult result =
        run_compactor(run_args(model, context, {"--quality", "0.9", "--calibration", calibration.string()}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("quality   tau 0.9 (fitted, " + calibration.string()), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("-> kept fraction"), std::string::npos) << result.out;
}

// Runs `compactor run --json --quality 0.9 --method compactor` on a short
// document with a calibration file written from `spec`, which a test makes
// wrong in one field, and expects an error that names `words` and the file.
void expect_calibration_rejected(const CalibrationFor& spec, std::vector<std::string> words) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);
    CalibrationFor with_sha256 = spec;
    if (with_sha256.sha256.empty()) with_sha256.sha256 = calibrate::file_sha256(model);
    const fs::path calibration = write_calibration_file(dir.path() / "calibration.json", with_sha256);

    const std::vector<std::string> options = {"--json",   "--quality", "0.9",           "--method",
                                              "compactor", "--calibration", calibration.string()};
    const ProcessResult result = run_compactor(run_args(model, context, options));
    words.push_back(calibration.string());
    expect_error_names(result, words);
}

TEST(QualityRun, CalibrationForOtherModelRejected) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    CalibrationFor spec;
    spec.sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    spec.model_name = "OtherModel-1B";
    const std::string real_sha256 = calibrate::file_sha256(model);
    expect_calibration_rejected(
        spec, {"fitted for model", "OtherModel-1B", spec.sha256.substr(0, 12), real_sha256.substr(0, 12)});
}

TEST(QualityRun, CalibrationForOtherMethodRejected) {
    CalibrationFor spec;
    spec.method = "snapkv";
    expect_calibration_rejected(spec, {"fitted for method snapkv", "the method is compactor"});
}

TEST(QualityRun, CalibrationForOtherBudgetRejected) {
    CalibrationFor spec;
    spec.budget = "per_head";
    expect_calibration_rejected(spec, {"fitted for budget per_head", "the budget is per_layer"});
}

TEST(QualityRun, MissingCalibrationFileRejected) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);
    const std::string missing = (dir.path() / "missing.json").string();

    const ProcessResult result =
        run_compactor(run_args(model, context, {"--json", "--quality", "0.9", "--calibration", missing}));
    expect_error_names(result, {missing, "not found"});
}

TEST(QualityRun, NoCalibrationInFolderRejected) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);
    const fs::path empty_folder = dir.path() / "calibration";
    fs::create_directory(empty_folder);

    const ProcessResult result = run_compactor(run_args(model, context, {"--json", "--quality", "0.9"}),
                                               "COMPACTOR_CALIBRATION_DIR=" + shell_quote(empty_folder.string()));
    expect_error_names(result, {"no fitted calibration", "method compactor", empty_folder.string()});
}

TEST(QualityRun, CalibrationFoundInFolder) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);
    const fs::path folder = dir.path() / "calibration";
    fs::create_directory(folder);
    const std::string sha256 = calibrate::file_sha256(model);
    CalibrationFor snapkv{sha256, "snapkv"};
    write_calibration_file(dir.path() / "calibration/a.snapkv.json", snapkv);
    CalibrationFor compactor_spec{sha256, "compactor"};
    compactor_spec.beta = -5.0;
    const fs::path matching = write_calibration_file(dir.path() / "calibration/b.compactor.json", compactor_spec);

    const ProcessResult result = run_compactor(run_args(model, context, {"--json", "--quality", "0.9"}),
                                               "COMPACTOR_CALIBRATION_DIR=" + shell_quote(folder.string()));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json quality = parse_stdout(result).value("quality", json());
    ASSERT_TRUE(quality.is_object());
    EXPECT_EQ(quality.value("calibration_file", ""), matching.string());
    EXPECT_EQ(quality.value("beta", 0.0), -5.0);
}

TEST(QualityRun, OnlineChoiceFollowsBinarySearch) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 1200);
    const double tau = 0.9;

    const ProcessResult result =
        run_compactor(run_args(model, context, {"--json", "--quality", "0.9", "--calibrate", "online"}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);
    const int64_t n_context_tokens = report.value("n_context_tokens", int64_t{0});
    EXPECT_GE(n_context_tokens, 450);
    EXPECT_LE(n_context_tokens, 900);
    const json& quality = report["quality"];
    ASSERT_TRUE(quality.is_object()) << report.dump(2);

    EXPECT_EQ(quality.value("calibration", ""), "online");
    EXPECT_EQ(quality.value("tau", 0.0), tau);
    EXPECT_FALSE(quality.contains("calibration_file"));
    EXPECT_EQ(quality.value("n_probes", int64_t{0}), OnlineCalibrationOptions{}.n_probes);
    EXPECT_GT(quality.value("n_probe_tokens", int64_t{0}), 0);
    const double probe_nll_full = quality.value("probe_nll_full", 0.0);
    EXPECT_GT(probe_nll_full, 0.0);
    EXPECT_GE(quality.value("seconds", -1.0), 0.0);

    const json& candidates = quality["candidates"];
    ASSERT_TRUE(candidates.is_array());
    ASSERT_FALSE(candidates.empty());
    double smallest_passing = 1.0;
    for (size_t i = 0; i < candidates.size(); ++i) {
        SCOPED_TRACE("candidate " + std::to_string(i));
        const json& c = candidates[i];
        for (const char* key : {"kept_fraction", "kept_measured", "probe_nll", "quality_ratio", "seconds"}) {
            EXPECT_TRUE(c.contains(key)) << "missing " << key << " in " << c.dump();
            EXPECT_TRUE(c.value(key, json()).is_number()) << key << " is not a number in " << c.dump();
        }
        const double kept_fraction = c.value("kept_fraction", -1.0);
        const double probe_nll = c.value("probe_nll", 0.0);
        EXPECT_GT(kept_fraction, 0.0);
        EXPECT_LT(kept_fraction, 1.0);
        EXPECT_GT(probe_nll, 0.0);
        EXPECT_NEAR(c.value("quality_ratio", 0.0), probe_nll_full / probe_nll, 1e-9);
        // Sink and recent tokens are always kept, so the measured fraction may
        // exceed the requested one on a short document. It may fall below it
        // only by rounding.
        EXPECT_GE(c.value("kept_measured", 0.0), kept_fraction - 0.02);
        EXPECT_LE(c.value("kept_measured", 2.0), 1.0);
        if (c.value("quality_ratio", 0.0) >= tau) smallest_passing = std::min(smallest_passing, kept_fraction);
    }

    const double chosen = quality.value("kept_fraction", 0.0);
    EXPECT_EQ(chosen, smallest_passing);
    EXPECT_EQ(chosen, replay_binary_search(OnlineCalibrationOptions{}.kept_grid, candidates, tau));
    EXPECT_NEAR(quality.value("ratio", -1.0), 1.0 - chosen, 1e-12);
    EXPECT_NEAR(report.value("ratio", -1.0), 1.0 - chosen, 1e-9);
    if (chosen < 1.0) {
        EXPECT_NEAR(report.value("kept_fraction", 0.0), chosen, 0.02);
    }
}

TEST(QualityRun, OnlineProbeCountOption) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);

    const ProcessResult result = run_compactor(
        run_args(model, context, {"--json", "--quality", "0.95", "--calibrate", "online", "--probes", "2"}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json quality = parse_stdout(result).value("quality", json());
    ASSERT_TRUE(quality.is_object());
    EXPECT_EQ(quality.value("n_probes", int64_t{0}), 2);
    EXPECT_EQ(quality.value("tau", 0.0), 0.95);
}

TEST(QualityRun, InvalidOptionsNameValue) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);
    struct Case {
        std::vector<std::string> options;
        std::vector<std::string> words;  // each must appear in the error
    };
    const std::vector<Case> cases = {
        {{"--ratio", "0.5", "--quality", "0.9"}, {"--ratio", "--quality"}},
        {{"--quality", "0.9", "--ratio", "0"}, {"--ratio", "--quality"}},
        {{"--quality", "1.5"}, {"--quality 1.5"}},
        {{"--quality", "0"}, {"--quality 0"}},
        {{"--quality", "-0.2"}, {"--quality -0.2"}},
        {{"--quality", "0.9", "--calibrate", "bogus"}, {"bogus"}},
        {{"--calibrate", "bogus"}, {"bogus"}},
        {{"--nll-stride", "-1"}, {"--nll-stride -1"}},
        {{"--quality", "0.9", "--nll-stride", "0"}, {"--nll-stride 0"}},
        {{"--quality", "0.9", "--calibrate", "online", "--probes", "0"}, {"--probes 0"}},
        {{"--quality", "0.9", "--calibrate", "online", "--calibration", "fit.json"}, {"--calibration"}},
        {{"--quality", "0.9", "--method", "none"}, {"--method is none"}},
        {{"--quality", "0.9", "--calibrate", "online", "--method", "none"}, {"--method is none"}},
    };
    for (const Case& c : cases) {
        std::string joined;
        for (const std::string& option : c.options) joined += option + " ";
        SCOPED_TRACE(joined);
        std::vector<std::string> options = c.options;
        options.push_back("--json");
        expect_error_names(run_compactor(run_args(model, context, options)), c.words);
    }
}

TEST(QualityRun, NllStrideZeroGivesNullNll) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);

    const ProcessResult result = run_compactor(run_args(model, context, {"--json", "--nll-stride", "0"}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);
    ASSERT_TRUE(report.contains("context_nll"));
    EXPECT_TRUE(report["context_nll"].is_null()) << report["context_nll"];
    EXPECT_EQ(report.value("n_nll_tokens", int64_t{-1}), 0);
    ASSERT_TRUE(report.contains("quality"));
    EXPECT_TRUE(report["quality"].is_null());
}

TEST(QualityRun, JsonWithoutQualityHasNll) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);

    const ProcessResult result = run_compactor(run_args(model, context, {"--json"}));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);
    ASSERT_TRUE(report.contains("quality"));
    EXPECT_TRUE(report["quality"].is_null()) << report["quality"];
    ASSERT_TRUE(report.contains("context_nll"));
    ASSERT_TRUE(report["context_nll"].is_number()) << report["context_nll"];
    const double context_nll = report["context_nll"].get<double>();
    EXPECT_GT(context_nll, 0.0);
    EXPECT_TRUE(std::isfinite(context_nll));
    // SmolLM2-135M reads this prose at about 3 nats per token (measured on
    // these runs), so 10 is a loose upper bound.
    EXPECT_LT(context_nll, 10.0);
    EXPECT_DOUBLE_EQ(report.value("ratio", -1.0), 0.5);

    // The default stride 4 scores about a quarter of the document's tokens.
    const int64_t n_context_tokens = report.value("n_context_tokens", int64_t{0});
    const int64_t n_nll_tokens = report.value("n_nll_tokens", int64_t{0});
    EXPECT_GT(n_nll_tokens, 0);
    EXPECT_LE(n_nll_tokens, n_context_tokens / 4 + 1);
    EXPECT_GE(n_nll_tokens, n_context_tokens / 8);
}

TEST(QualityRun, NllStrideSetsScoredTokens) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path context = short_document(dir, 600);

    const ProcessResult stride4 = run_compactor(run_args(model, context, {"--json", "--nll-stride", "4"}));
    const ProcessResult stride2 = run_compactor(run_args(model, context, {"--json", "--nll-stride", "2"}));
    ASSERT_EQ(stride4.exit_code, 0) << stride4.err;
    ASSERT_EQ(stride2.exit_code, 0) << stride2.err;
    const int64_t n4 = parse_stdout(stride4).value("n_nll_tokens", int64_t{0});
    const int64_t n2 = parse_stdout(stride2).value("n_nll_tokens", int64_t{0});
    ASSERT_GT(n4, 0);
    EXPECT_GE(n2, 2 * n4 - 2);
    EXPECT_LE(n2, 2 * n4 + 2);
}

}  // namespace
}  // namespace compactor::test
