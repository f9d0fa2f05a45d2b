#include "calibrate/calibration_file.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/json_text.h"

namespace compactor::calibrate {

namespace {

using nlohmann::json;

constexpr const char* kFormat = "compactor-calibration";
constexpr int kVersion = 1;

const json& field(const json& object, const char* name) {
    const auto it = object.find(name);
    if (it == object.end()) throw std::invalid_argument(fmt::format("calibration file: missing field \"{}\"", name));
    return *it;
}

template <typename T>
T get_field(const json& object, const char* name) {
    try {
        return field(object, name).get<T>();
    } catch (const json::exception&) {
        throw std::invalid_argument(
            fmt::format("calibration file: field \"{}\" has the wrong type ({})", name, field(object, name).dump()));
    }
}

json point_to_json(const CalibrationPoint& p) {
    return {{"sample_id", p.sample_id},
            {"task", p.task},
            {"length", p.length},
            {"kept_fraction", p.kept_fraction},
            {"context_nll", p.context_nll},
            {"answer_nll_full", p.answer_nll_full},
            {"answer_nll_compressed", p.answer_nll_compressed}};
}

CalibrationPoint point_from_json(const json& j) {
    CalibrationPoint p;
    p.sample_id = get_field<std::string>(j, "sample_id");
    p.task = get_field<std::string>(j, "task");
    p.length = get_field<int64_t>(j, "length");
    p.kept_fraction = get_field<double>(j, "kept_fraction");
    p.context_nll = get_field<double>(j, "context_nll");
    p.answer_nll_full = get_field<double>(j, "answer_nll_full");
    p.answer_nll_compressed = get_field<double>(j, "answer_nll_compressed");
    return p;
}

}  // namespace

double CalibrationPoint::quality_ratio() const {
    return answer_nll_compressed > 0 ? answer_nll_full / answer_nll_compressed : 1.0;
}

json to_json(const Calibration& c) {
    json points = json::array();
    for (const CalibrationPoint& p : c.points) points.push_back(point_to_json(p));
    return {
        {"format", kFormat},
        {"version", kVersion},
        {"model", {{"name", c.model_name}, {"file", c.model_file}, {"sha256", c.model_sha256}}},
        {"method", c.method},
        {"budget", c.budget},
        {"scorer_settings", c.scorer_settings},
        {"nll_stride", c.nll_stride},
        {"fit",
         {{"alpha", c.fit.alpha},
          {"beta", c.fit.beta},
          {"alpha_fixed", c.fit.alpha_fixed},
          {"over_weight", c.fit_options.over_weight},
          {"loss", c.fit.loss},
          {"rmse", c.fit.rmse},
          {"mean_residual", c.fit.mean_residual},
          {"over_fraction", c.fit.over_fraction},
          {"n_triples", c.fit.n_triples},
          {"iterations", c.fit.iterations},
          {"converged", c.fit.converged}}},
        {"data",
         {{"suite", c.suite},
          {"lengths", c.lengths},
          {"kept_grid", c.kept_grid},
          {"n_samples", c.n_samples},
          {"command", c.command},
          {"wall_s", c.wall_s}}},
        {"points", points},
    };
}

Calibration calibration_from_json(const json& j) {
    if (!j.is_object() || j.value("format", "") != kFormat) {
        throw std::invalid_argument(fmt::format("not a compactor calibration file (its \"format\" is not \"{}\")", kFormat));
    }
    if (const int version = get_field<int>(j, "version"); version != kVersion) {
        throw std::invalid_argument(fmt::format(
            "calibration file version {} is not supported (this compactor reads version {}); refit it with "
            "compactor calibrate fit",
            version, kVersion));
    }

    Calibration c;
    const json& model = field(j, "model");
    c.model_name = get_field<std::string>(model, "name");
    c.model_file = get_field<std::string>(model, "file");
    c.model_sha256 = get_field<std::string>(model, "sha256");
    c.method = get_field<std::string>(j, "method");
    c.budget = get_field<std::string>(j, "budget");
    c.scorer_settings = field(j, "scorer_settings");
    c.nll_stride = get_field<int64_t>(j, "nll_stride");

    const json& fit = field(j, "fit");
    c.fit.alpha = get_field<double>(fit, "alpha");
    c.fit.beta = get_field<double>(fit, "beta");
    c.fit.alpha_fixed = get_field<bool>(fit, "alpha_fixed");
    c.fit_options.over_weight = get_field<double>(fit, "over_weight");
    c.fit.loss = get_field<double>(fit, "loss");
    c.fit.rmse = get_field<double>(fit, "rmse");
    c.fit.mean_residual = get_field<double>(fit, "mean_residual");
    c.fit.over_fraction = get_field<double>(fit, "over_fraction");
    c.fit.n_triples = get_field<int64_t>(fit, "n_triples");
    c.fit.iterations = get_field<int>(fit, "iterations");
    c.fit.converged = get_field<bool>(fit, "converged");

    const json& data = field(j, "data");
    c.suite = get_field<std::string>(data, "suite");
    c.lengths = get_field<std::vector<int64_t>>(data, "lengths");
    c.kept_grid = get_field<std::vector<double>>(data, "kept_grid");
    c.n_samples = get_field<int64_t>(data, "n_samples");
    c.command = get_field<std::string>(data, "command");
    c.wall_s = get_field<double>(data, "wall_s");
    for (const json& point : field(j, "points")) c.points.push_back(point_from_json(point));
    return c;
}

Calibration read_calibration(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        throw std::runtime_error(fmt::format(
            "calibration file not found: {} (make one with compactor calibrate fit, or use --calibrate online)", path));
    }
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read calibration file {}: check its permissions", path));
    try {
        return calibration_from_json(json::parse(in));
    } catch (const json::exception& e) {
        throw std::runtime_error(fmt::format("calibration file {} is not valid JSON: {}", path, e.what()));
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(fmt::format("calibration file {}: {}", path, e.what()));
    }
}

void write_calibration(const std::string& path, const Calibration& calibration) {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary);
        if (!out) throw std::runtime_error(fmt::format("cannot write {}: check that its folder exists", temporary));
        out << json_text(to_json(calibration), 1) << '\n';
        // Flush before the check, so a full disk fails here and not
        // unnoticed in the destructor.
        out.flush();
        if (!out) {
            out.close();
            std::remove(temporary.c_str());
            throw std::runtime_error(
                fmt::format("cannot write {}: check free disk space; {} was left unchanged", temporary, path));
        }
    }
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    if (error) {
        std::remove(temporary.c_str());
        throw std::runtime_error(fmt::format("cannot move {} to {}: {}", temporary, path, error.message()));
    }
}

void check_calibration_matches(const Calibration& calibration, const std::string& model_sha256,
                               const std::string& model_name, const std::string& method, const std::string& budget) {
    if (calibration.model_sha256 != model_sha256) {
        throw std::invalid_argument(fmt::format(
            "the calibration was fitted for model {} ({}, SHA-256 {}…) but the model is {} (SHA-256 {}…); fit one "
            "for this model with compactor calibrate fit, or use --calibrate online",
            calibration.model_name, calibration.model_file, calibration.model_sha256.substr(0, 12), model_name,
            model_sha256.substr(0, 12)));
    }
    if (calibration.method != method) {
        throw std::invalid_argument(fmt::format(
            "the calibration was fitted for method {} but the method is {}; pass a calibration file for {} or "
            "--method {}",
            calibration.method, method, method, calibration.method));
    }
    if (calibration.budget != budget) {
        throw std::invalid_argument(fmt::format(
            "the calibration was fitted for budget {} but the budget is {}; pass a calibration file for {} or "
            "--budget {}",
            calibration.budget, budget, budget, calibration.budget));
    }
}

std::string find_calibration_file(const std::string& dir, const std::string& model_sha256, const std::string& method,
                                  const std::string& budget) {
    std::error_code error;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
        if (entry.path().extension() == ".json" && entry.is_regular_file(error)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const std::filesystem::path& file : files) {
        try {
            const Calibration calibration = read_calibration(file.string());
            if (calibration.model_sha256 == model_sha256 && calibration.method == method &&
                calibration.budget == budget) {
                return file.string();
            }
        } catch (const std::runtime_error& e) {
            spdlog::warn("calibration: skipping {}: {}", file.string(), e.what());
        }
    }
    return "";
}

}  // namespace compactor::calibrate
