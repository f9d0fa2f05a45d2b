// The samples of an evaluation run: RULER tasks generated on demand and
// LongBench-format files loaded up front, each under an id known before it
// is generated, so that a resumed run skips finished samples cheaply.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/sample.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::eval {

struct SampleSelection {
    std::string suite = "ruler";                // ruler, real or all
    std::vector<int64_t> lengths{4096};         // target lengths in model tokens
    int64_t n_samples = 20;                     // per task and length; the real suite takes the first n of each file
    std::vector<std::string> tasks;             // task names to keep; empty keeps every task
    std::vector<std::string> longbench_files;   // extra LongBench-format JSONL files (real suite)
    std::string data_dir;                       // ../shared/data layout; empty when absent
    uint64_t seed = 0;                          // RULER generator seed
};

struct PlannedSample {
    std::string id;             // equals the generated sample's id
    std::string suite;
    std::string task;
    int64_t target_tokens = 0;
    std::function<Sample()> load;  // generates (RULER) or copies (LongBench) the sample
};

// The samples of `selection`, index by index: sample 0 of every task and
// length (RULER tasks first), then sample 1, and so on.
// Throws std::invalid_argument naming the value and the fix for an unknown
// suite or task, a task outside the suite, a length that is not positive or
// exceeds n_ctx (the model's context), a missing data folder (--data-dir), a
// RULER task that cannot be generated (its index-0 sample is generated here
// to find out) and duplicate sample ids.
std::vector<PlannedSample> plan_samples(const SampleSelection& selection, const Tokenizer& tokenizer,
                                        const ChatTemplate& chat_template, int64_t n_ctx);

// The id RULER samples carry: "{task}/{target_tokens}/{index}".
std::string ruler_sample_id(const std::string& task, int64_t target_tokens, int64_t index);

}  // namespace compactor::eval
