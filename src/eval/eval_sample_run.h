// One sample of an evaluation: prefill once, score with every method, then
// compress a copy of the cache per variant and answer from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compactor/engine.h"
#include "eval/eval_variant.h"
#include "eval/sample.h"

namespace compactor::eval {

struct EvalOptions;

// Fields that every line of a run shares.
struct LineContext {
    std::string model_name;
    uint64_t model_bytes = 0;
    std::string run_id;
    nlohmann::json settings;
};

struct SampleRunResult {
    std::vector<nlohmann::json> lines;  // one per variant, in the order given
    int64_t n_generations = 0;          // answers generated; the other lines reused one
};

// Run `variants` (not empty) on `sample`. `earlier_lines` are this sample's
// lines from earlier invocations under the same protocol: a variant whose
// kept rows equal one of theirs reuses its answer. Throws
// std::invalid_argument naming the sample when prompt and answer do not fit
// the model's context.
SampleRunResult run_sample(const Engine& engine, const EvalOptions& options, const LineContext& context,
                           const Sample& sample, const std::vector<Variant>& variants,
                           const std::vector<const nlohmann::json*>& earlier_lines);

}  // namespace compactor::eval
