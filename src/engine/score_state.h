// Scoring state of one prefill, shared by every copy of a DocumentSession.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "compactor/engine.h"
#include "compress/compressor.h"

namespace compactor {

struct DocumentSession::ScoreState {
    std::unique_ptr<Scorer> scorer;  // nullptr for method "none"
    std::optional<ScoreSet> scores;  // set by the first compress() of any copy that scores
    double score_s = 0;              // time the scorer's finalize() took, measured by compress()
    double second_pass_s = 0;        // time of the scorer's second pass, run by open_document
    std::mutex mutex;                // copies may compress from different threads
};

// Throws std::invalid_argument naming the first scorer knob of `now` that
// differs from the prefill's: only ratio, budget and head_floor may change.
void check_same_scoring(const CompressionOptions& prefill, const CompressionOptions& now);

}  // namespace compactor
