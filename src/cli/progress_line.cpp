#include "cli/progress_line.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include <fmt/format.h>

namespace compactor::cli {

namespace {

constexpr int kBarWidth = 24;

std::string bar(double fraction) {
    const int filled = static_cast<int>(std::lround(fraction * kBarWidth));
    return std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kBarWidth - filled), '.');
}

}  // namespace

std::string format_duration(double seconds) {
    const auto total = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
    if (total < 60) return fmt::format("{}s", total);
    if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
    return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

ProgressLine::ProgressLine(std::string label) : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(int64_t n_done, int64_t n_total, double elapsed_s) {
    if (!enabled_ || n_total <= 0) return;

    const double fraction = std::clamp(static_cast<double>(n_done) / static_cast<double>(n_total), 0.0, 1.0);
    const double rate = elapsed_s > 0 ? static_cast<double>(n_done) / elapsed_s : 0.0;
    const std::string eta = rate > 0 ? format_duration(static_cast<double>(n_total - n_done) / rate) : "?";

    draw(fraction, fmt::format("{}/{} tokens {:3.0f}%  {:.0f} tokens/s  ETA {}", n_done, n_total, fraction * 100.0,
                               rate, eta));
}

void ProgressLine::draw(double fraction, const std::string& detail) {
    if (!enabled_) return;

    // \r returns to the line start and \033[K clears what a longer earlier draw left.
    fmt::print(stderr, "\r\033[K{} [{}] {}", label_, bar(std::clamp(fraction, 0.0, 1.0)), detail);
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressLine::finish() {
    if (!drawn_) return;
    fmt::print(stderr, "\n");
    std::fflush(stderr);
    drawn_ = false;
}

}  // namespace compactor::cli
