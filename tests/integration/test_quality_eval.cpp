// compactor-test-libs: compactor_calibrate
// `compactor eval --qualities` end to end on the real model. Checks one
// results line per quality budget and calibration kind, with the fitted or
// online fields, and a resume that skips finished quality lines. Also checks
// the "Quality budgets" section of summary.md and the errors for a missing
// calibration or one made for another model.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
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

constexpr double kAlpha = 1.0;
constexpr double kBeta = -6.0;
constexpr double kTau = 0.9;

// Fields every results.jsonl line carries, quality lines included.
const char* const kLineFields[] = {
    "sample_id", "suite",      "task",       "length",   "n_context_tokens", "method",   "budget",
    "ratio",     "protocol",   "score",      "prediction", "kept_fraction",  "kv_bytes", "kv_bytes_full",
    "prefill_s", "compact_s",  "kept_hash",  "reused_from", "model",         "version",
};

// The calibration fields only quality lines carry.
const char* const kQualityFields[] = {"quality", "calibration", "context_nll", "calibration_s"};

std::vector<std::string> eval_args(const std::string& model, const fs::path& out, const std::string& calibrate) {
    return {"eval",        "--model",    model,           "--suite",   "ruler",     "--tasks", "niah_single_1",
            "--lengths",   "512",        "--samples",     "1",         "--methods", "none,compactor",
            "--ratios",    "0",          "--qualities",   "0.9",       "--calibrate", calibrate,
            "--threads",   "2",          "--out",         out.string(), "--quiet"};
}

std::vector<std::string> with_calibration(std::vector<std::string> args, const fs::path& calibration) {
    args.push_back("--calibration");
    args.push_back(calibration.string());
    return args;
}

// Writes a calibration file for `sha256` and compactor with the eval's
// default per_layer budget, fitted as kAlpha and kBeta.
fs::path write_calibration_file(const fs::path& path, const std::string& sha256) {
    CalibrationFor spec;
    spec.sha256 = sha256;
    spec.alpha = kAlpha;
    spec.beta = kBeta;
    return write_calibration_file(path, spec);
}

std::vector<json> read_lines(const fs::path& path) {
    std::vector<json> lines;
    for (const std::string& text : split_lines(read_file(path))) {
        if (!text.empty()) lines.push_back(json::parse(text));
    }
    return lines;
}

// "method@ratio" of a fixed-ratio line ("none@0.0"), "method@qτ/kind" of a
// quality line ("compactor@q0.9/online").
std::string variant_of(const json& line) {
    const std::string method = line.value("method", "");
    if (line.contains("calibration") && line["calibration"].is_string()) {
        return method + "@q" + line["quality"].dump() + "/" + line["calibration"].get<std::string>();
    }
    return method + "@" + line["ratio"].dump();
}

std::map<std::string, json> by_variant(const std::vector<json>& lines) {
    std::map<std::string, json> keyed;
    for (const json& line : lines) {
        const std::string variant = variant_of(line);
        EXPECT_FALSE(keyed.count(variant)) << "two lines for " << variant;
        keyed[variant] = line;
    }
    return keyed;
}

void expect_fixed_lines(const json& none, const json& whole) {
    for (const json* line : {&none, &whole}) {
        for (const char* field : kQualityFields) {
            EXPECT_FALSE(line->contains(field) && !(*line)[field].is_null())
                << "fixed-ratio line has " << field << ": " << *line;
        }
        EXPECT_EQ(line->value("ratio", -1.0), 0.0);
        EXPECT_DOUBLE_EQ(line->value("kept_fraction", 0.0), 1.0);
    }
    EXPECT_TRUE(none["budget"].is_null());
    EXPECT_EQ(whole.value("budget", ""), "per_layer");
}

void expect_fitted_line(const json& fitted) {
    EXPECT_EQ(fitted.value("method", ""), "compactor");
    EXPECT_EQ(fitted.value("budget", ""), "per_layer");
    EXPECT_EQ(fitted.value("quality", 0.0), kTau);
    EXPECT_EQ(fitted.value("calibration", ""), "fitted");
    EXPECT_GE(fitted.value("calibration_s", -1.0), 0.0);
    EXPECT_FALSE(fitted.contains("online_candidates"));
    EXPECT_FALSE(fitted.contains("probe_nll_full"));

    ASSERT_TRUE(fitted["context_nll"].is_number()) << fitted["context_nll"];
    const double context_nll = fitted["context_nll"].get<double>();
    EXPECT_GT(context_nll, 0.0);
    ASSERT_TRUE(fitted["calibration_b"].is_number()) << fitted;
    const double b = fitted["calibration_b"].get<double>();
    EXPECT_NEAR(b, kAlpha * context_nll + kBeta, 1e-12);

    const double kept_fraction = closed_form_kept_fraction(kTau, b);
    EXPECT_GT(kept_fraction, calibrate::kMinKeptFraction) << "pick alpha and beta so the kept fraction is not clamped";
    EXPECT_NEAR(fitted.value("ratio", -1.0), 1.0 - kept_fraction, 1e-9);
    EXPECT_NEAR(fitted.value("kept_fraction", 0.0), kept_fraction, 0.02);
}

void expect_online_line(const json& online, const json& fitted) {
    EXPECT_EQ(online.value("method", ""), "compactor");
    EXPECT_EQ(online.value("budget", ""), "per_layer");
    EXPECT_EQ(online.value("quality", 0.0), kTau);
    EXPECT_EQ(online.value("calibration", ""), "online");
    EXPECT_GE(online.value("calibration_s", -1.0), 0.0);
    EXPECT_FALSE(online.contains("calibration_b"));
    // The fitted variant of the same sample measured the context NLL.
    EXPECT_EQ(online["context_nll"], fitted["context_nll"]);

    const double probe_nll_full = online.value("probe_nll_full", 0.0);
    EXPECT_GT(probe_nll_full, 0.0);
    const json& candidates = online["online_candidates"];
    ASSERT_TRUE(candidates.is_array()) << online;
    ASSERT_FALSE(candidates.empty());
    double smallest_passing = 1.0;
    for (size_t i = 0; i < candidates.size(); ++i) {
        SCOPED_TRACE("candidate " + std::to_string(i));
        const json& c = candidates[i];
        for (const char* key : {"kept_fraction", "quality_ratio", "probe_nll"}) {
            EXPECT_TRUE(c.contains(key)) << "missing " << key << " in " << c.dump();
            EXPECT_TRUE(c.value(key, json()).is_number()) << key << " is not a number in " << c.dump();
        }
        const double probe_nll = c.value("probe_nll", 0.0);
        EXPECT_GT(probe_nll, 0.0);
        EXPECT_NEAR(c.value("quality_ratio", 0.0), probe_nll_full / probe_nll, 1e-9);
        if (c.value("quality_ratio", 0.0) >= kTau) {
            smallest_passing = std::min(smallest_passing, c.value("kept_fraction", 1.0));
        }
    }

    const double chosen = 1.0 - online.value("ratio", -1.0);
    EXPECT_NEAR(chosen, smallest_passing, 1e-12);
    EXPECT_NEAR(chosen, replay_binary_search(OnlineCalibrationOptions{}.kept_grid, candidates, kTau), 1e-12);
    EXPECT_NEAR(online.value("kept_fraction", 0.0), chosen, 0.02);
}

void expect_quality_summary(const std::string& summary) {
    for (const char* text : {"### Quality budgets: average score (kept fraction)", "Full cache (none): ",
                             "| method / calibration | τ 0.9 |", "| compactor:per_layer/fitted | ",
                             "| compactor:per_layer/online | ", "### Quality budgets: fraction of the full-cache score",
                             "--qualities 0.9"}) {
        EXPECT_NE(summary.find(text), std::string::npos) << "missing '" << text << "' in:\n" << summary;
    }
}

// The first stderr line that starts with "error: ", or "" when none does.
std::string error_line(const ProcessResult& result) {
    for (const std::string& line : split_lines(result.err)) {
        if (line.rfind("error: ", 0) == 0) return line;
    }
    return "";
}

// Expects eval to exit with 1 and one error line that names every word,
// before it wrote any results to `out`.
void expect_eval_error(const ProcessResult& result, const fs::path& out, const std::vector<std::string>& words) {
    EXPECT_EQ(result.exit_code, 1) << result.err;
    const std::string line = error_line(result);
    ASSERT_FALSE(line.empty()) << "no 'error: ' line in stderr:\n" << result.err;
    for (const std::string& word : words) {
        EXPECT_NE(line.find(word), std::string::npos) << "'" << word << "' missing from: " << line;
    }
    EXPECT_FALSE(fs::exists(out / "results.jsonl"));
}

TEST(QualityEval, LinesSummaryAndResume) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path out = dir.path() / "out";
    const fs::path results = out / "results.jsonl";
    const fs::path calibration =
        write_calibration_file(dir.path() / "compactor.per_layer.json", calibrate::file_sha256(model));
    const std::vector<std::string> args = with_calibration(eval_args(model, out, "fitted,online"), calibration);

    const ProcessResult first = run_compactor(args);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const std::vector<json> lines = read_lines(results);
    ASSERT_EQ(lines.size(), 4u);
    for (const json& line : lines) {
        for (const char* field : kLineFields) {
            EXPECT_TRUE(line.contains(field)) << "missing " << field << " in " << line;
        }
        EXPECT_EQ(line.value("sample_id", ""), "niah_single_1/512/0");
        EXPECT_EQ(line.value("protocol", ""), "agnostic");
    }

    const std::map<std::string, json> keyed = by_variant(lines);
    for (const char* variant : {"none@0.0", "compactor@0.0", "compactor@q0.9/fitted", "compactor@q0.9/online"}) {
        ASSERT_TRUE(keyed.count(variant)) << "no line for " << variant;
    }
    expect_fixed_lines(keyed.at("none@0.0"), keyed.at("compactor@0.0"));
    expect_fitted_line(keyed.at("compactor@q0.9/fitted"));
    expect_online_line(keyed.at("compactor@q0.9/online"), keyed.at("compactor@q0.9/fitted"));
    expect_quality_summary(read_file(out / "summary.md"));

    // A rerun finds every line, quality lines included, and adds none.
    const ProcessResult rerun = run_compactor(args);
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(read_lines(results), lines);
    EXPECT_NE(rerun.err.find("no lines added"), std::string::npos) << rerun.err;

    // A deleted quality line is run again, and only it.
    std::vector<json> kept_lines;
    for (const json& line : lines) {
        if (variant_of(line) != "compactor@q0.9/online") kept_lines.push_back(line);
    }
    ASSERT_EQ(kept_lines.size(), 3u);
    std::string text;
    for (const json& line : kept_lines) text += line.dump() + "\n";
    std::ofstream(results, std::ios::binary | std::ios::trunc) << text;

    const ProcessResult restore = run_compactor(args);
    ASSERT_EQ(restore.exit_code, 0) << restore.err;
    const std::vector<json> restored = read_lines(results);
    ASSERT_EQ(restored.size(), 4u);
    EXPECT_EQ(std::vector<json>(restored.begin(), restored.begin() + 3), kept_lines);
    const json& again = restored.back();
    EXPECT_EQ(variant_of(again), "compactor@q0.9/online");
    // Probes are placed by the seed, so the search repeats.
    EXPECT_EQ(again.value("ratio", -1.0), keyed.at("compactor@q0.9/online").value("ratio", -2.0));
}

TEST(QualityEval, MissingCalibrationNamesMethod) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path empty_folder = dir.path() / "calibration";
    fs::create_directory(empty_folder);
    const fs::path out = dir.path() / "out";

    const ProcessResult result = run_compactor(eval_args(model, out, "fitted,online"),
                                               "COMPACTOR_CALIBRATION_DIR=" + shell_quote(empty_folder.string()));
    expect_eval_error(result, out, {"no fitted calibration", "compactor:per_layer", "--methods compactor"});
}

TEST(QualityEval, CalibrationForOtherModelRejected) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const std::string other_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const fs::path calibration = write_calibration_file(dir.path() / "other.json", other_sha256);
    const fs::path out = dir.path() / "out";

    const ProcessResult result = run_compactor(with_calibration(eval_args(model, out, "fitted"), calibration));
    expect_eval_error(result, out,
                      {"fitted for model", other_sha256.substr(0, 12), calibrate::file_sha256(model).substr(0, 12)});
}

TEST(QualityEval, OnlineNeedsNoCalibrationFile) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    TempDir dir;
    const fs::path empty_folder = dir.path() / "calibration";
    fs::create_directory(empty_folder);
    const fs::path out = dir.path() / "out";

    const ProcessResult result = run_compactor(eval_args(model, out, "online"),
                                               "COMPACTOR_CALIBRATION_DIR=" + shell_quote(empty_folder.string()));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::map<std::string, json> keyed = by_variant(read_lines(out / "results.jsonl"));
    EXPECT_EQ(keyed.size(), 3u);
    ASSERT_TRUE(keyed.count("compactor@q0.9/online"));
    EXPECT_FALSE(keyed.count("compactor@q0.9/fitted"));
    const json& online = keyed.at("compactor@q0.9/online");
    // No fitted variant ran, so nothing measured the context NLL.
    ASSERT_TRUE(online.contains("context_nll"));
    EXPECT_TRUE(online["context_nll"].is_null()) << online["context_nll"];
    EXPECT_FALSE(online.value("online_candidates", json::array()).empty());
}

TEST(QualityEval, InvalidQualityOptionsNameValue) {
    const std::string model = real_model_path();
    if (!fs::is_regular_file(model)) GTEST_SKIP() << missing_model_message(model);
    struct Case {
        std::string option;
        std::string value;
        std::vector<std::string> words;  // each must appear in the error line
    };
    const std::vector<Case> cases = {
        {"--qualities", "0.9,1.5", {"1.5", "(0, 1]"}},
        {"--qualities", "0", {"'0'"}},
        {"--qualities", "high", {"high"}},
        {"--calibrate", "bogus", {"bogus", "fitted or online"}},
        {"--nll-stride", "0", {"--nll-stride 0"}},
        {"--probes", "0", {"--probes 0"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.option + " " + c.value);
        TempDir dir;
        const fs::path out = dir.path() / "out";
        std::vector<std::string> args = eval_args(model, out, "online");
        const auto option = std::find(args.begin(), args.end(), c.option);
        if (option == args.end()) {
            args.push_back(c.option);
            args.push_back(c.value);
        } else {
            *(option + 1) = c.value;
        }

        expect_eval_error(run_compactor(args), out, c.words);
    }
}

}  // namespace
}  // namespace compactor::test
