// compactor-test-libs: compactor_calibrate
// Calibration files and the fitted choice of a kept fraction. Covers the JSON
// round trip through write_calibration and read_calibration, read errors that
// name the path, and the model, method and budget match. Also covers the
// search of a folder for the matching file, and choose_fitted against the
// closed form of the quality curve.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "calibrate/calibration_file.h"
#include "calibrate/fitted_choice.h"

namespace compactor::calibrate {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kModelSha256 = "3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1";
const std::string kOtherSha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A folder removed with its contents when the object goes out of scope.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "compactor-calibration-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string write(const std::string& name, const std::string& content) const {
        std::ofstream(path_ / name, std::ios::binary) << content;
        return file(name);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// Routes spdlog's default logger to a string while the object lives.
class CapturedLog {
public:
    CapturedLog() : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
    }
    ~CapturedLog() { spdlog::set_default_logger(previous_); }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;

    std::string text() const { return text_.str(); }

private:
    std::shared_ptr<spdlog::logger> previous_;
    std::ostringstream text_;
};

// A calibration with every field set to a value that differs from its default.
Calibration sample_calibration() {
    Calibration c;
    c.model_name = "SmolLM2-135M-Instruct";
    c.model_file = "SmolLM2-135M-Instruct.Q4_1.gguf";
    c.model_sha256 = kModelSha256;
    c.method = "compactor";
    c.budget = "per_head";
    c.scorer_settings = {{"blend", 0.25}, {"sketch_dim", 48}, {"value_weighting", true}};
    c.nll_stride = 8;
    c.fit_options.over_weight = 3.5;
    c.fit.alpha = 1.2345678901234567;
    c.fit.beta = -3.0000000000000004;
    c.fit.alpha_fixed = true;
    c.fit.loss = 0.0123;
    c.fit.rmse = 0.045;
    c.fit.mean_residual = -0.0071;
    c.fit.over_fraction = 0.375;
    c.fit.n_triples = 24;
    c.fit.iterations = 17;
    c.fit.converged = false;
    c.suite = "ruler";
    c.lengths = {1024, 4096};
    c.kept_grid = {0.1, 0.3, 0.7};
    c.n_samples = 8;
    c.command = "compactor calibrate fit --methods compactor";
    c.wall_s = 123.25;
    c.points = {{"ruler/niah_single_1/1024/0", "niah_single_1", 1024, 0.3012, 2.75, 0.41, 0.52},
                {"ruler/vt/4096/3", "vt", 4096, 0.1, 1.0 / 3.0, 1.5, 1.25}};
    return c;
}

// The JSON of sample_calibration() after `edit`, written to `name` in `dir`.
template <typename Edit>
std::string write_edited(const TempDir& dir, const std::string& name, Edit edit) {
    json j = to_json(sample_calibration());
    edit(j);
    return dir.write(name, j.dump());
}

// Runs read_calibration on `path` and returns the message of the
// std::runtime_error it must throw.
std::string read_error(const std::string& path) {
    try {
        read_calibration(path);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    ADD_FAILURE() << "read_calibration(" << path << ") did not throw std::runtime_error";
    return "";
}

// k* = 1 + ln(τ + (1 − τ)·e^(−b)) / b, written out as the feature defines it.
double closed_form_kept_fraction(double tau, double b) { return 1.0 + std::log(tau + (1.0 - tau) * std::exp(-b)) / b; }

TEST(CalibrationFile, WriteThenReadKeepsEveryField) {
    TempDir dir;
    const Calibration written = sample_calibration();
    const std::string path = dir.file("model.compactor.per_head.json");
    write_calibration(path, written);
    const Calibration read = read_calibration(path);

    EXPECT_EQ(read.model_name, written.model_name);
    EXPECT_EQ(read.model_file, written.model_file);
    EXPECT_EQ(read.model_sha256, written.model_sha256);
    EXPECT_EQ(read.method, written.method);
    EXPECT_EQ(read.budget, written.budget);
    EXPECT_EQ(read.scorer_settings, written.scorer_settings);
    EXPECT_EQ(read.nll_stride, written.nll_stride);
    EXPECT_EQ(read.fit_options.over_weight, written.fit_options.over_weight);
    EXPECT_EQ(read.fit.alpha, written.fit.alpha);
    EXPECT_EQ(read.fit.beta, written.fit.beta);
    EXPECT_EQ(read.fit.alpha_fixed, written.fit.alpha_fixed);
    EXPECT_EQ(read.fit.loss, written.fit.loss);
    EXPECT_EQ(read.fit.rmse, written.fit.rmse);
    EXPECT_EQ(read.fit.mean_residual, written.fit.mean_residual);
    EXPECT_EQ(read.fit.over_fraction, written.fit.over_fraction);
    EXPECT_EQ(read.fit.n_triples, written.fit.n_triples);
    EXPECT_EQ(read.fit.iterations, written.fit.iterations);
    EXPECT_EQ(read.fit.converged, written.fit.converged);
    EXPECT_EQ(read.suite, written.suite);
    EXPECT_EQ(read.lengths, written.lengths);
    EXPECT_EQ(read.kept_grid, written.kept_grid);
    EXPECT_EQ(read.n_samples, written.n_samples);
    EXPECT_EQ(read.command, written.command);
    EXPECT_EQ(read.wall_s, written.wall_s);

    ASSERT_EQ(read.points.size(), written.points.size());
    for (size_t i = 0; i < read.points.size(); ++i) {
        SCOPED_TRACE("point " + std::to_string(i));
        const CalibrationPoint& r = read.points[i];
        const CalibrationPoint& w = written.points[i];
        EXPECT_EQ(r.sample_id, w.sample_id);
        EXPECT_EQ(r.task, w.task);
        EXPECT_EQ(r.length, w.length);
        EXPECT_EQ(r.kept_fraction, w.kept_fraction);
        EXPECT_EQ(r.context_nll, w.context_nll);
        EXPECT_EQ(r.answer_nll_full, w.answer_nll_full);
        EXPECT_EQ(r.answer_nll_compressed, w.answer_nll_compressed);
    }

    // A second write of the same calibration gives the same JSON.
    EXPECT_EQ(to_json(read), to_json(written));
}

TEST(CalibrationFile, JsonNamesFormatAndVersion) {
    const json j = to_json(sample_calibration());
    EXPECT_EQ(j.value("format", ""), "compactor-calibration");
    EXPECT_EQ(j.value("version", 0), 1);
    EXPECT_EQ(j["model"].value("sha256", ""), kModelSha256);
    EXPECT_EQ(j["fit"].value("alpha", 0.0), sample_calibration().fit.alpha);
    EXPECT_EQ(j["fit"].value("beta", 0.0), sample_calibration().fit.beta);
}

TEST(CalibrationFile, WriteLeavesNoTemporaryFile) {
    TempDir dir;
    const std::string path = dir.file("model.compactor.per_head.json");
    write_calibration(path, sample_calibration());

    EXPECT_TRUE(fs::is_regular_file(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    size_t n_files = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        ++n_files;
        EXPECT_EQ(entry.path().filename().string(), "model.compactor.per_head.json");
    }
    EXPECT_EQ(n_files, 1u);
}

TEST(CalibrationFile, WriteReplacesEarlierFile) {
    TempDir dir;
    const std::string path = dir.write("model.compactor.per_head.json", "an earlier file");
    Calibration calibration = sample_calibration();
    calibration.fit.alpha = 0.5;
    write_calibration(path, calibration);
    EXPECT_EQ(read_calibration(path).fit.alpha, 0.5);
    EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(CalibrationFile, WriteRepairsInvalidUtf8) {
    // A command line can carry a Latin-1 path. "caf\xE9" is "café" in
    // Latin-1 and is not valid UTF-8.
    TempDir dir;
    Calibration calibration = sample_calibration();
    calibration.command = "compactor calibrate fit --data-dir /data/caf\xE9";
    const std::string path = dir.file("model.compactor.per_head.json");
    ASSERT_NO_THROW(write_calibration(path, calibration));

    const Calibration read = read_calibration(path);
    EXPECT_EQ(read.command, "compactor calibrate fit --data-dir /data/caf\xEF\xBF\xBD");
    EXPECT_EQ(read.fit.alpha, calibration.fit.alpha);
}

TEST(CalibrationFile, FailedWriteKeepsEarlierFile) {
    // A temporary file linked to /dev/full fails every write, as a full
    // disk does.
    if (!fs::exists("/dev/full")) GTEST_SKIP() << "/dev/full is not available";
    TempDir dir;
    Calibration earlier = sample_calibration();
    earlier.fit.alpha = 0.5;
    const std::string path = dir.file("model.compactor.per_head.json");
    write_calibration(path, earlier);
    fs::create_symlink("/dev/full", path + ".tmp");

    try {
        write_calibration(path, sample_calibration());
        ADD_FAILURE() << "write_calibration to a full disk did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ".tmp"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("free disk space"), std::string::npos) << e.what();
    }

    EXPECT_EQ(read_calibration(path).fit.alpha, 0.5);
    EXPECT_FALSE(fs::exists(fs::symlink_status(path + ".tmp")));
    EXPECT_TRUE(fs::exists("/dev/full"));
}

TEST(CalibrationFile, WriteIntoMissingFolderThrows) {
    TempDir dir;
    const std::string path = dir.file("no-such-folder/model.json");
    try {
        write_calibration(path, sample_calibration());
        FAIL() << "write_calibration into a missing folder did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir.path() / "no-such-folder"));
}

TEST(CalibrationFile, ReadMissingFileNamesPath) {
    TempDir dir;
    const std::string path = dir.file("missing.json");
    const std::string message = read_error(path);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("not found"), std::string::npos) << message;
}

TEST(CalibrationFile, ReadFolderNamesPath) {
    TempDir dir;
    const std::string message = read_error(dir.path().string());
    EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
}

TEST(CalibrationFile, ReadNonJsonNamesPath) {
    TempDir dir;
    for (const std::string& content : {std::string("alpha = 1.5"), std::string(""), std::string("{\"format\": ")}) {
        SCOPED_TRACE("content: " + content);
        const std::string path = dir.write("broken.json", content);
        const std::string message = read_error(path);
        EXPECT_NE(message.find(path), std::string::npos) << message;
        EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
    }
}

TEST(CalibrationFile, ReadWrongFormatNamesPath) {
    TempDir dir;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"other format", write_edited(dir, "other.json", [](json& j) { j["format"] = "kvpress-calibration"; })},
        {"no format", write_edited(dir, "none.json", [](json& j) { j.erase("format"); })},
        {"array", dir.write("array.json", "[1, 2, 3]")},
        {"number", dir.write("number.json", "42")},
    };
    for (const auto& [name, path] : cases) {
        SCOPED_TRACE(name);
        const std::string message = read_error(path);
        EXPECT_NE(message.find(path), std::string::npos) << message;
        EXPECT_NE(message.find("not a compactor calibration file"), std::string::npos) << message;
    }
}

TEST(CalibrationFile, ReadUnsupportedVersionNamesPath) {
    TempDir dir;
    const std::string path = write_edited(dir, "future.json", [](json& j) { j["version"] = 2; });
    const std::string message = read_error(path);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("version 2"), std::string::npos) << message;
    EXPECT_NE(message.find("not supported"), std::string::npos) << message;
}

TEST(CalibrationFile, ReadMissingFieldNamesPathAndField) {
    TempDir dir;
    struct Case {
        const char* field;  // the name the message must contain
        void (*erase)(json&);
    };
    const std::vector<Case> cases = {
        {"version", [](json& j) { j.erase("version"); }},
        {"model", [](json& j) { j.erase("model"); }},
        {"sha256", [](json& j) { j["model"].erase("sha256"); }},
        {"method", [](json& j) { j.erase("method"); }},
        {"budget", [](json& j) { j.erase("budget"); }},
        {"nll_stride", [](json& j) { j.erase("nll_stride"); }},
        {"alpha", [](json& j) { j["fit"].erase("alpha"); }},
        {"beta", [](json& j) { j["fit"].erase("beta"); }},
        {"kept_grid", [](json& j) { j["data"].erase("kept_grid"); }},
        {"points", [](json& j) { j.erase("points"); }},
        {"answer_nll_full", [](json& j) { j["points"][1].erase("answer_nll_full"); }},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.field);
        const std::string path = write_edited(dir, std::string("no-") + c.field + ".json", c.erase);
        const std::string message = read_error(path);
        EXPECT_NE(message.find(path), std::string::npos) << message;
        EXPECT_NE(message.find(std::string("\"") + c.field + "\""), std::string::npos) << message;
    }
}

TEST(CalibrationFile, ReadMistypedFieldNamesPathAndField) {
    TempDir dir;
    const std::string path = write_edited(dir, "mistyped.json", [](json& j) { j["fit"]["alpha"] = "1.5"; });
    const std::string message = read_error(path);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("\"alpha\""), std::string::npos) << message;
    EXPECT_NE(message.find("wrong type"), std::string::npos) << message;
}

TEST(CalibrationFile, CalibrationFromJsonThrowsInvalidArgument) {
    json j = to_json(sample_calibration());
    j.erase("method");
    EXPECT_THROW(calibration_from_json(j), std::invalid_argument);
    EXPECT_THROW(calibration_from_json(json::array()), std::invalid_argument);
}

TEST(CalibrationPoint, QualityRatioIsFullOverCompressed) {
    const CalibrationPoint point{"id", "task", 512, 0.5, 2.0, 0.6, 0.8};
    EXPECT_DOUBLE_EQ(point.quality_ratio(), 0.75);
    const CalibrationPoint zero_nll{"id", "task", 512, 0.5, 2.0, 0.6, 0.0};
    EXPECT_EQ(zero_nll.quality_ratio(), 1.0);
}

TEST(CalibrationMatch, SameModelMethodAndBudgetPasses) {
    EXPECT_NO_THROW(check_calibration_matches(sample_calibration(), kModelSha256, "SmolLM2-135M-Instruct",
                                              "compactor", "per_head"));
}

TEST(CalibrationMatch, OtherModelNamesBothModels) {
    try {
        check_calibration_matches(sample_calibration(), kOtherSha256, "OtherModel-1B", "compactor", "per_head");
        FAIL() << "a calibration for another model passed";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("fitted for model"), std::string::npos) << message;
        EXPECT_NE(message.find("SmolLM2-135M-Instruct"), std::string::npos) << message;
        EXPECT_NE(message.find("OtherModel-1B"), std::string::npos) << message;
        EXPECT_NE(message.find(kModelSha256.substr(0, 12)), std::string::npos) << message;
        EXPECT_NE(message.find(kOtherSha256.substr(0, 12)), std::string::npos) << message;
    }
}

TEST(CalibrationMatch, SameNameOtherDigestRejected) {
    // A requantized file of the same model has the same name but other outputs.
    EXPECT_THROW(check_calibration_matches(sample_calibration(), kOtherSha256, "SmolLM2-135M-Instruct", "compactor",
                                           "per_head"),
                 std::invalid_argument);
}

TEST(CalibrationMatch, OtherMethodNamesBothMethods) {
    try {
        check_calibration_matches(sample_calibration(), kModelSha256, "SmolLM2-135M-Instruct", "snapkv", "per_head");
        FAIL() << "a calibration for another method passed";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("method compactor"), std::string::npos) << message;
        EXPECT_NE(message.find("snapkv"), std::string::npos) << message;
    }
}

TEST(CalibrationMatch, OtherBudgetNamesBothBudgets) {
    try {
        check_calibration_matches(sample_calibration(), kModelSha256, "SmolLM2-135M-Instruct", "compactor",
                                  "per_layer");
        FAIL() << "a calibration for another budget passed";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("budget per_head"), std::string::npos) << message;
        EXPECT_NE(message.find("per_layer"), std::string::npos) << message;
    }
}

// A folder with calibrations for other models, methods and budgets, a broken
// file, a matching file under a name that is not *.json, and two matching
// files, of which the first by name must win.
class CalibrationSearch : public ::testing::Test {
protected:
    void SetUp() override {
        write_variant("a-other-model.json", kOtherSha256, "compactor", "per_head");
        write_variant("b-other-method.json", kModelSha256, "snapkv", "per_head");
        write_variant("c-other-budget.json", kModelSha256, "compactor", "per_layer");
        dir_.write("d-broken.json", "{ not json");
        write_variant("e-not-json-extension.txt", kModelSha256, "compactor", "per_head");
        write_variant("f-match.json", kModelSha256, "compactor", "per_head");
        write_variant("g-match-later.json", kModelSha256, "compactor", "per_head");
    }

    void write_variant(const std::string& name, const std::string& sha256, const std::string& method,
                       const std::string& budget) {
        Calibration c = sample_calibration();
        c.model_sha256 = sha256;
        c.method = method;
        c.budget = budget;
        write_calibration(dir_.file(name), c);
    }

    TempDir dir_;
};

TEST_F(CalibrationSearch, PicksFirstMatchingFileByName) {
    CapturedLog log;
    EXPECT_EQ(find_calibration_file(dir_.path().string(), kModelSha256, "compactor", "per_head"),
              dir_.file("f-match.json"));
}

TEST_F(CalibrationSearch, MatchesMethodAndBudget) {
    CapturedLog log;
    EXPECT_EQ(find_calibration_file(dir_.path().string(), kModelSha256, "snapkv", "per_head"),
              dir_.file("b-other-method.json"));
    EXPECT_EQ(find_calibration_file(dir_.path().string(), kModelSha256, "compactor", "per_layer"),
              dir_.file("c-other-budget.json"));
    EXPECT_EQ(find_calibration_file(dir_.path().string(), kOtherSha256, "compactor", "per_head"),
              dir_.file("a-other-model.json"));
}

TEST_F(CalibrationSearch, SkipsBrokenFileWithWarning) {
    CapturedLog log;
    find_calibration_file(dir_.path().string(), kModelSha256, "compactor", "per_head");
    const std::string text = log.text();
    EXPECT_NE(text.find("d-broken.json"), std::string::npos) << text;
    EXPECT_NE(text.find("warning"), std::string::npos) << text;
}

TEST_F(CalibrationSearch, EmptyWhenNoneMatches) {
    CapturedLog log;
    EXPECT_EQ(find_calibration_file(dir_.path().string(), kModelSha256, "knorm", "per_head"), "");
    EXPECT_EQ(find_calibration_file(dir_.path().string(), kOtherSha256, "snapkv", "per_layer"), "");
}

TEST(CalibrationSearchFolder, EmptyOrMissingFolderFindsNothing) {
    TempDir dir;
    EXPECT_EQ(find_calibration_file(dir.path().string(), kModelSha256, "compactor", "per_head"), "");
    EXPECT_EQ(find_calibration_file(dir.file("missing"), kModelSha256, "compactor", "per_head"), "");
}

TEST(CalibrationSearchFolder, OnlyBrokenFileFindsNothing) {
    TempDir dir;
    dir.write("broken.json", "[]");
    CapturedLog log;
    EXPECT_EQ(find_calibration_file(dir.path().string(), kModelSha256, "compactor", "per_head"), "");
    EXPECT_NE(log.text().find("broken.json"), std::string::npos) << log.text();
}

Calibration calibration_with(double alpha, double beta) {
    Calibration c = sample_calibration();
    c.fit.alpha = alpha;
    c.fit.beta = beta;
    return c;
}

TEST(FittedChoice, FullBudgetKeepsWholeCache) {
    for (const double alpha : {-2.0, 0.0, 3.0}) {
        SCOPED_TRACE("alpha " + std::to_string(alpha));
        const FittedChoice choice = choose_fitted(calibration_with(alpha, 0.5), 2.5, 1.0);
        EXPECT_EQ(choice.tau, 1.0);
        EXPECT_EQ(choice.kept_fraction, 1.0);
        EXPECT_EQ(choice.ratio, 0.0);
    }
}

TEST(FittedChoice, MatchesClosedForm) {
    struct Case {
        double alpha, beta, context_nll, tau;
    };
    const std::vector<Case> cases = {
        {2.0, -13.0, 1.5, 0.9},   // b = −10
        {-1.0, -1.0, 2.0, 0.95},  // b = −3
        {0.5, 0.25, 1.5, 0.9},    // b = 1
        {2.0, 1.0, 1.5, 0.99},    // b = 4
        {1.0, -2.5, 2.5, 0.8},    // b = 0 from the sum, so k* = τ
        {0.0, -6.0, 3.0, 0.5},    // α = 0
    };
    for (const Case& c : cases) {
        const double b = c.alpha * c.context_nll + c.beta;
        SCOPED_TRACE("b = " + std::to_string(b) + ", tau = " + std::to_string(c.tau));
        const FittedChoice choice = choose_fitted(calibration_with(c.alpha, c.beta), c.context_nll, c.tau);
        const double expected = b == 0.0 ? c.tau : closed_form_kept_fraction(c.tau, b);

        EXPECT_EQ(choice.tau, c.tau);
        EXPECT_EQ(choice.context_nll, c.context_nll);
        EXPECT_DOUBLE_EQ(choice.b, b);
        EXPECT_NEAR(choice.kept_fraction, expected, 1e-12);
        EXPECT_EQ(choice.ratio, 1.0 - choice.kept_fraction);
        EXPECT_GT(choice.kept_fraction, kMinKeptFraction);
        EXPECT_LE(choice.kept_fraction, 1.0);
    }
}

TEST(FittedChoice, KnownValueForBMinusTen) {
    // b = −10, τ = 0.9: k* = 1 − ln(0.9 + 0.1·e^10) / 10 ≈ 0.230218.
    const FittedChoice choice = choose_fitted(calibration_with(2.0, -13.0), 1.5, 0.9);
    EXPECT_NEAR(choice.kept_fraction, 0.230218, 1e-6);
    EXPECT_NEAR(choice.ratio, 0.769782, 1e-6);
}

TEST(FittedChoice, HigherBudgetKeepsMore) {
    const Calibration calibration = calibration_with(1.0, -5.0);
    double previous = 0.0;
    for (const double tau : {0.5, 0.8, 0.9, 0.95, 0.99, 1.0}) {
        SCOPED_TRACE("tau = " + std::to_string(tau));
        const double kept = choose_fitted(calibration, 2.0, tau).kept_fraction;
        EXPECT_GT(kept, previous);
        previous = kept;
    }
}

TEST(FittedChoice, VeryCompressibleClampsAtMinimum) {
    // b = −1000, τ = 0.9: k* = ln(0.1 + 0.9·e^(−1000)) / −1000 ≈ 0.0023, below the floor.
    const FittedChoice choice = choose_fitted(calibration_with(0.0, -1000.0), 2.0, 0.9);
    EXPECT_EQ(choice.b, -1000.0);
    EXPECT_EQ(choice.kept_fraction, kMinKeptFraction);
    EXPECT_EQ(choice.ratio, 1.0 - kMinKeptFraction);

    const FittedChoice extreme = choose_fitted(calibration_with(-1e6, 0.0), 3.0, 0.5);
    EXPECT_EQ(extreme.kept_fraction, kMinKeptFraction);
    EXPECT_LT(extreme.ratio, 1.0);
}

TEST(FittedChoice, NonFiniteContextNllThrows) {
    const Calibration calibration = calibration_with(1.0, -2.0);
    for (const double nll : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()}) {
        SCOPED_TRACE("context NLL " + std::to_string(nll));
        EXPECT_THROW(choose_fitted(calibration, nll, 0.9), std::invalid_argument);
    }
}

TEST(FittedChoice, BudgetOutsideRangeThrows) {
    const Calibration calibration = calibration_with(1.0, -2.0);
    for (const double tau : {0.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
        SCOPED_TRACE("tau " + std::to_string(tau));
        EXPECT_THROW(choose_fitted(calibration, 2.0, tau), std::invalid_argument);
    }
}

TEST(FittedChoice, NonFiniteBThrows) {
    // α·c overflows to infinity for a finite context NLL.
    EXPECT_THROW(choose_fitted(calibration_with(1e308, 0.0), 10.0, 0.9), std::invalid_argument);
}

}  // namespace
}  // namespace compactor::calibrate
