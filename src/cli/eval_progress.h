// Progress of `compactor eval` on stderr: a bar with samples done, the
// current sample, elapsed time and ETA on a terminal, else one log line per
// finished sample; --quiet turns both off.
#pragma once

#include <optional>

#include "cli/progress_line.h"
#include "eval/runner.h"

namespace compactor::cli {

class EvalProgressDisplay {
public:
    explicit EvalProgressDisplay(bool quiet);

    void update(const eval::EvalProgress& progress);
    // End the bar's line before the closing log lines.
    void finish();

private:
    bool quiet_ = false;
    std::optional<ProgressLine> line_;  // set when stderr is a terminal and not quiet
};

}  // namespace compactor::cli
