// A one-line progress display with rate and ETA, redrawn in place on stderr
// when stderr is a terminal and silent otherwise (pipes, log files, tests).
#pragma once

#include <cstdint>
#include <string>

namespace compactor::cli {

class ProgressLine {
public:
    explicit ProgressLine(std::string label);
    ~ProgressLine();
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

    // Redraw with n_done of n_total tokens after elapsed_s seconds.
    void update(int64_t n_done, int64_t n_total, double elapsed_s);
    // Redraw with the bar filled to `fraction` (clamped to [0, 1]) and
    // `detail` after it, for progress not counted in tokens.
    void draw(double fraction, const std::string& detail);
    // False when stderr is not a terminal, so nothing is drawn.
    bool enabled() const { return enabled_; }
    // End the line so later output starts on a fresh one; called by the destructor too.
    void finish();

private:
    std::string label_;
    bool enabled_ = false;
    bool drawn_ = false;
};

// "42s", "3m05s" or "1h02m".
std::string format_duration(double seconds);

}  // namespace compactor::cli
