// Measurements for a fitted calibration: per sample, the context NLL and,
// for each method and kept fraction on a grid, the reference answer's NLL
// under the compressed cache next to its NLL under the full cache.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/calibration_file.h"
#include "compactor/engine.h"
#include "compress/compressor.h"
#include "eval/sample.h"

namespace compactor::eval {

struct FitDataOptions {
    std::vector<std::string> methods{"compactor"};
    CompressionOptions compression;  // scorer knobs and budget; method and ratio are set per point
    std::vector<double> kept_grid{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
    int64_t nll_stride = 4;          // positions between scored context-NLL predictions
    int64_t prefill_chunk = 512;
};

struct SampleFitData {
    std::string sample_id;
    double context_nll = 0;      // nats per document token
    int64_t n_nll_tokens = 0;
    int64_t n_answer_tokens = 0; // reference answer tokens teacher-forced
    double seconds = 0;          // the whole sample: prefill, scoring, compressions and teacher forcing
    std::map<std::string, std::vector<calibrate::CalibrationPoint>> points;  // by method, in grid order
};

// The reference answer as the model would write it after the answer
// prompt: every reference joined by ", " for metrics that need all of them,
// else the first; a leading space when the answer prefix ends in a word.
std::vector<int32_t> reference_answer_tokens(const Tokenizer& tokenizer, const Sample& sample);

// Prefills the sample once (query-agnostic prompt) with every method's
// scorer, then teacher-forces the reference answer on a full copy and on
// one copy per method and kept fraction. Throws std::invalid_argument naming
// the sample when it does not fit the model's context or has no reference.
SampleFitData measure_fit_sample(const Engine& engine, const Sample& sample, const FitDataOptions& options);

nlohmann::json to_json(const SampleFitData& data);
// Throws std::invalid_argument naming a missing or mistyped field.
SampleFitData sample_fit_data_from_json(const nlohmann::json& json);

}  // namespace compactor::eval
