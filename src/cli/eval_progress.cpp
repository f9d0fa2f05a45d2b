#include "cli/eval_progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace compactor::cli {

namespace {

// Skipped samples cost nothing, so the ETA extrapolates from the samples run.
std::string eta_text(const eval::EvalProgress& progress) {
    if (progress.n_run == 0) return "?";
    const double per_sample_s = progress.elapsed_s / static_cast<double>(progress.n_run);
    return format_duration(per_sample_s * static_cast<double>(progress.n_to_run - progress.n_run));
}

}  // namespace

EvalProgressDisplay::EvalProgressDisplay(bool quiet) : quiet_(quiet) {
    if (quiet_) return;
    line_.emplace("eval");
    if (!line_->enabled()) line_.reset();
}

void EvalProgressDisplay::update(const eval::EvalProgress& progress) {
    if (quiet_) return;
    const std::string counts = fmt::format("{}/{} samples", progress.n_done, progress.n_total);
    const std::string times =
        fmt::format("elapsed {}  ETA {}", format_duration(progress.elapsed_s), eta_text(progress));

    if (line_) {
        const double fraction =
            progress.n_to_run > 0 ? static_cast<double>(progress.n_run) / static_cast<double>(progress.n_to_run) : 1.0;
        const char* state = progress.started ? "running" : "done";
        line_->draw(fraction, fmt::format("{}  {} {}  {}", counts, state, progress.sample_id, times));
        return;
    }
    if (!progress.started) spdlog::info("eval: {} done, sample {}; {}", counts, progress.sample_id, times);
}

void EvalProgressDisplay::finish() {
    if (line_) line_->finish();
}

}  // namespace compactor::cli
