// Checks shared by the `--quality` integration tests (run and eval): a
// calibration file written as `calibrate fit` would, the closed form of the
// fitted choice, and a replay of the online binary search.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "calibrate/calibration_file.h"
#include "calibrate/fitted_choice.h"

namespace compactor::test {

// What a test calibration file is fitted for, and its α and β.
struct CalibrationFor {
    std::string sha256;
    std::string method = "compactor";
    std::string budget = "per_layer";  // the default --budget of run and eval
    std::string model_name = "SmolLM2-135M-Instruct";
    double alpha = 1.0;
    double beta = -6.0;
};

// Writes a calibration file with every field set, as calibrate fit would.
inline std::filesystem::path write_calibration_file(const std::filesystem::path& path, const CalibrationFor& spec) {
    calibrate::Calibration c;
    c.model_name = spec.model_name;
    c.model_file = "SmolLM2-135M-Instruct.Q4_1.gguf";
    c.model_sha256 = spec.sha256;
    c.method = spec.method;
    c.budget = spec.budget;
    c.scorer_settings = nlohmann::json::object();
    c.nll_stride = 4;
    c.fit = calibrate::CalibrationFit{};
    c.fit.alpha = spec.alpha;
    c.fit.beta = spec.beta;
    c.fit.n_triples = 3;
    c.fit.converged = true;
    c.suite = "ruler";
    c.lengths = {512};
    c.kept_grid = {0.25, 0.5, 0.75};
    c.n_samples = 1;
    c.command = "written by an integration test";
    calibrate::write_calibration(path.string(), c);
    return path;
}

// k* = 1 + ln(τ + (1 − τ)·e^(−b)) / b, raised to the minimum kept fraction.
inline double closed_form_kept_fraction(double tau, double b) {
    if (tau == 1.0) return 1.0;
    const double kept = 1.0 + std::log(tau + (1.0 - tau) * std::exp(-b)) / b;
    return std::max(calibrate::kMinKeptFraction, kept);
}

// Replays the binary search of calibrate_online over `grid` with the pass or
// fail of each reported candidate, and returns the kept fraction it chooses.
// Fails the test when the reported candidates are not the ones it would try.
inline double replay_binary_search(const std::vector<double>& grid, const nlohmann::json& candidates, double tau) {
    size_t low = 0;
    size_t high = grid.size();
    size_t step = 0;
    while (low < high) {
        const size_t mid = (low + high) / 2;
        if (step >= candidates.size()) {
            ADD_FAILURE() << "the search stopped after " << step << " candidates but would try kept fraction "
                          << grid[mid];
            return -1.0;
        }
        const nlohmann::json& candidate = candidates[step];
        EXPECT_EQ(candidate.value("kept_fraction", -1.0), grid[mid]) << "candidate " << step;
        if (candidate.value("quality_ratio", 0.0) >= tau) {
            high = mid;
        } else {
            low = mid + 1;
        }
        ++step;
    }
    EXPECT_EQ(step, candidates.size()) << "more candidates than the binary search tries";
    return high < grid.size() ? grid[high] : 1.0;
}

}  // namespace compactor::test
