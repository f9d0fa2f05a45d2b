// The evaluation loop: one prefill per sample, every method, budget and
// ratio scored from it, answers generated in batches, one results.jsonl line
// per sample × variant.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/calibration_file.h"
#include "compactor/engine.h"
#include "compactor/online_calibration.h"
#include "compress/compressor.h"
#include "eval/eval_results.h"
#include "eval/eval_samples.h"
#include "eval/eval_variant.h"
#include "model/weight_matrix.h"

namespace compactor::eval {

struct EvalOptions {
    std::vector<MethodSpec> methods;
    std::vector<double> ratios;
    Protocol protocol = Protocol::agnostic;
    // The scorer knobs; method, ratio and budget are set per variant.
    CompressionOptions compression;
    int64_t max_batch = 64;       // requests per generate_batch() call at most
    int64_t prefill_chunk = 512;  // tokens per forward chunk of the sample's prefill

    // Quality-budget variants: every method but none at every τ with every
    // calibration kind; the ratio is chosen per sample.
    std::vector<double> qualities;
    std::vector<CalibrationKind> calibration_kinds;
    // Fitted calibrations by "method:budget" label; needed for every method
    // when calibration_kinds has fitted.
    std::map<std::string, calibrate::Calibration> calibrations;
    int64_t nll_stride = 4;                     // context NLL positions for fitted calibrations
    OnlineCalibrationOptions online;            // probes of online calibrations
};

// The settings every line stores under "settings" and a resumed run must
// repeat: the scorer knobs (not method, ratio and budget, which are keys)
// and the model's weight format.
nlohmann::json settings_json(const EvalOptions& options, WeightFormat weights);

struct EvalProgress {
    int64_t n_done = 0;          // samples finished or skipped
    int64_t n_total = 0;         // samples planned
    int64_t n_run = 0;           // samples run (not skipped) and finished in this invocation
    int64_t n_to_run = 0;        // samples that had missing variants at start
    std::string sample_id;       // the sample starting (started = true) or just finished
    bool started = false;
    double elapsed_s = 0;        // since run() began
};
using EvalProgressCallback = std::function<void(const EvalProgress&)>;

struct EvalStats {
    int64_t n_samples_run = 0;
    int64_t n_samples_skipped = 0;  // every variant was already in results.jsonl
    int64_t n_lines_written = 0;
    int64_t n_generations = 0;      // answers generated; the other lines reused one
    double wall_s = 0;
};

class EvalRunner {
public:
    // `results` receives the lines; model_name and model_bytes identify the
    // model file in every line; run_id names this invocation (its start
    // time) so summed compute time counts each sample once per invocation.
    EvalRunner(const Engine& engine, EvalOptions options, ResultsFile& results, std::string model_name,
               uint64_t model_bytes, std::string run_id);

    // Variants every sample runs, in report order.
    const std::vector<Variant>& variants() const { return variants_; }

    // Run every sample whose variants are not all in the results file. A
    // sample's lines are appended when it finishes, so an interrupted run
    // loses at most the sample in progress. Throws std::invalid_argument
    // naming the sample when its prompt and answer do not fit the model's
    // context, and what the engine throws.
    EvalStats run(const std::vector<PlannedSample>& samples, const EvalProgressCallback& on_progress);

private:
    std::vector<Variant> missing_variants(const std::string& sample_id) const;

    const Engine& engine_;
    EvalOptions options_;
    ResultsFile& results_;
    std::string model_name_;
    uint64_t model_bytes_ = 0;
    std::string run_id_;
    std::vector<Variant> variants_;
};

}  // namespace compactor::eval
