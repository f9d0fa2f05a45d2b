// A fitted calibration: α and β of b = α · context NLL + β for one model,
// compression method and budget mode, with the data the fit came from. Run
// time reads it to turn a quality budget τ into a kept fraction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/calibration_fit.h"

namespace compactor::calibrate {

// One measurement behind a fit, with where it came from.
struct CalibrationPoint {
    std::string sample_id;
    std::string task;
    int64_t length = 0;               // target length of the sample in model tokens
    double kept_fraction = 0;         // measured on the compressed cache
    double context_nll = 0;           // nats per document token
    double answer_nll_full = 0;       // nats per reference-answer token, full cache
    double answer_nll_compressed = 0; // nats per reference-answer token, compressed cache
    // answer_nll_full / answer_nll_compressed, the quality ratio g the fit models.
    double quality_ratio() const;
};

struct Calibration {
    // Model, method and settings of the fit.
    std::string model_name;
    std::string model_file;            // file name only, for messages
    std::string model_sha256;
    std::string method;                // one of method_names()
    std::string budget;                // "per_head" or "per_layer"
    nlohmann::json scorer_settings;    // the scorer knobs the fit used
    int64_t nll_stride = 4;            // DocumentOptions::nll_stride of the context NLLs

    FitOptions fit_options;
    CalibrationFit fit;

    // Data behind the fit.
    std::string suite;
    std::vector<int64_t> lengths;
    std::vector<double> kept_grid;     // kept fractions requested per sample
    int64_t n_samples = 0;
    std::string command;               // the command line that made the file
    double wall_s = 0;
    std::vector<CalibrationPoint> points;
};

nlohmann::json to_json(const Calibration& calibration);
// Throws std::invalid_argument naming the missing or mistyped field.
Calibration calibration_from_json(const nlohmann::json& json);

// Throws std::runtime_error naming the path: unreadable, not JSON, or not a
// compactor calibration file.
Calibration read_calibration(const std::string& path);
// Writes through a temporary file and a rename, so a failed write leaves
// any earlier file whole. Throws std::runtime_error naming the path.
void write_calibration(const std::string& path, const Calibration& calibration);

// Throws std::invalid_argument when `calibration` was fitted for another
// model file, method or budget mode, naming both values and the fix.
void check_calibration_matches(const Calibration& calibration, const std::string& model_sha256,
                               const std::string& model_name, const std::string& method, const std::string& budget);

// The first *.json file in `dir` (by name) fitted for this model file,
// method and budget; empty when none is. Files that are not calibrations
// are skipped with a warning.
std::string find_calibration_file(const std::string& dir, const std::string& model_sha256, const std::string& method,
                                  const std::string& budget);

}  // namespace compactor::calibrate
