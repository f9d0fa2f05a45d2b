// score_vs_ratio.png and .svg: average score against the measured kept
// fraction, one line per method and budget, drawn by gnuplot.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace compactor::eval {

// gnuplot is missing, lacks a terminal, or failed; the message names the fix.
class PlotError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct PlotPoint {
    double kept_fraction = 0;  // measured, averaged over tasks
    double score = 0;          // average score ×100
    std::string ratio;
};

struct PlotSeries {
    std::string title;         // "compactor:per_layer", "(query-aware)" appended for that protocol
    std::vector<PlotPoint> points;  // by ascending kept fraction
    bool points_only = false;  // the full cache: one point, no line
};

// One series per method label and protocol, averaged over task units
// ("suite/task/length") so each task weighs the same; the full cache
// ("none") is a single point.
std::vector<PlotSeries> plot_series(const std::vector<const nlohmann::json*>& lines);

// Write DIR/{stem}.dat and DIR/{stem}.gp, then run gnuplot in DIR to draw
// {stem}.png and {stem}.svg. Throws PlotError naming the package to install
// (gnuplot-nox) when gnuplot or its pngcairo or svg terminal is missing, and
// gnuplot's output when it fails.
void draw_plot(const std::filesystem::path& dir, const std::string& stem, const std::string& title,
               const std::vector<PlotSeries>& series);

// Every plot of a results file: score_vs_ratio over all lines and, when the
// file contains several suites, score_vs_ratio_{suite} for each. Returns the
// image paths written.
std::vector<std::filesystem::path> write_plots(const std::filesystem::path& dir,
                                               const std::vector<nlohmann::json>& lines);

}  // namespace compactor::eval
