#include "eval/eval_plot.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "eval/eval_process.h"
#include "eval/eval_summary.h"

namespace compactor::eval {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kGnuplotPackage = "gnuplot-nox";

std::string unit_of(const json& line) {
    return fmt::format("{}/{}/{}", line.value("suite", std::string()), line.value("task", std::string()),
                       line.value("length", int64_t{0}));
}

// A gnuplot single-quoted string: only the quote itself needs escaping, by doubling.
std::string gnuplot_quote(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        quoted += c;
        if (c == '\'') quoted += '\'';
    }
    return quoted + "'";
}

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}: check the folder's permissions", path.string()));
}

std::string data_text(const std::vector<PlotSeries>& series) {
    std::string text = "# kept_fraction score_x100 ratio; one block per series, in the order of the .gp file\n";
    for (size_t i = 0; i < series.size(); ++i) {
        const PlotSeries& entry = series[i];
        // Two blank lines end a block, which gnuplot's `index` counts from 0.
        if (i > 0) text += "\n\n";
        text += fmt::format("# {}\n", entry.title);
        for (const PlotPoint& point : entry.points) {
            text += fmt::format("{:.6f} {:.4f} {}\n", point.kept_fraction, point.score, point.ratio);
        }
    }
    return text;
}

std::string script_text(const std::string& stem, const std::string& title, const std::vector<PlotSeries>& series) {
    std::string text = fmt::format("# Written by compactor eval; redraw with: gnuplot {}.gp\n", stem);
    text += "set termoption noenhanced\n";
    text += fmt::format("set title {}\n", gnuplot_quote(title));
    text += "set xlabel 'kept fraction of the KV cache (measured)'\n";
    text += "set ylabel 'average score (x100)'\n";
    text += "set xrange [0:1.05]\nset yrange [0:105]\nset grid\nset key outside right top\n";

    std::string plot = "plot ";
    for (size_t i = 0; i < series.size(); ++i) {
        if (i > 0) plot += ", \\\n     ";
        // gnuplot cycles through 8 colours, so later series also change the dash pattern.
        const std::string style = series[i].points_only
                                      ? "points pointtype 7 pointsize 1.5"
                                      : fmt::format("linespoints linewidth 2 dashtype {}", 1 + i / 8);
        plot += fmt::format("{} index {} using 1:2 with {} title {}", gnuplot_quote(stem + ".dat"), i, style,
                            gnuplot_quote(series[i].title));
    }

    text += "set terminal pngcairo size 1000,600 noenhanced\n";
    text += fmt::format("set output {}\n{}\n", gnuplot_quote(stem + ".png"), plot);
    text += "set terminal svg size 1000,600 noenhanced\n";
    text += fmt::format("set output {}\nreplot\nunset output\n", gnuplot_quote(stem + ".svg"));
    return text;
}

ProcessOutput run_gnuplot(const std::vector<std::string>& argv, const fs::path& dir) {
    try {
        return run_process(argv, dir);
    } catch (const std::system_error& e) {
        if (e.code().value() == ENOENT) {
            throw PlotError(fmt::format(
                "gnuplot is not installed, so {}/score_vs_ratio.png and .svg were not drawn (results.jsonl and "
                "summary.md are written); install the Debian package {} (apt-get install {}) and rerun the same "
                "command",
                dir.string(), kGnuplotPackage, kGnuplotPackage));
        }
        throw PlotError(fmt::format("cannot start gnuplot: {}", e.what()));
    }
}

// gnuplot lists its terminals on stderr for `set terminal`.
void check_terminals(const fs::path& dir) {
    const ProcessOutput listing = run_gnuplot({"gnuplot", "-e", "set terminal"}, dir);
    for (const char* terminal : {"pngcairo", "svg"}) {
        if (listing.output.find(terminal) == std::string::npos) {
            throw PlotError(fmt::format("the installed gnuplot has no {} terminal; install the Debian package {}, "
                                        "which has it, and rerun the same command",
                                        terminal, kGnuplotPackage));
        }
    }
}

}  // namespace

std::vector<PlotSeries> plot_series(const std::vector<const json*>& lines) {
    std::map<std::string, std::vector<const json*>> by_protocol;
    for (const json* line : lines) by_protocol[line->value("protocol", std::string("agnostic"))].push_back(line);

    std::vector<PlotSeries> series;
    for (const auto& [protocol, protocol_lines] : by_protocol) {
        const std::string suffix = protocol == "aware" ? " (query-aware)" : "";
        const ScoreTable table(protocol_lines, unit_of);
        if (table.has_full_cache()) {
            const SummaryCell full = table.full_cache_average();
            series.push_back({"none (full cache)" + suffix, {{full.kept_fraction, 100.0 * full.score, "0"}}, true});
        }
        for (const std::string& row : table.rows()) {
            PlotSeries method_series{row + suffix, {}, false};
            for (const std::string& ratio : table.ratios()) {
                const SummaryCell cell = table.average(row, ratio);
                if (!cell.empty()) method_series.points.push_back({cell.kept_fraction, 100.0 * cell.score, ratio});
            }
            std::sort(method_series.points.begin(), method_series.points.end(),
                      [](const PlotPoint& a, const PlotPoint& b) { return a.kept_fraction < b.kept_fraction; });
            series.push_back(std::move(method_series));
        }
    }
    return series;
}

void draw_plot(const fs::path& dir, const std::string& stem, const std::string& title,
               const std::vector<PlotSeries>& series) {
    write_file(dir / (stem + ".dat"), data_text(series));
    write_file(dir / (stem + ".gp"), script_text(stem, title, series));
    if (series.empty()) {
        throw PlotError(fmt::format("{}/{}.gp has nothing to plot: results.jsonl has no lines", dir.string(), stem));
    }

    check_terminals(dir);
    const ProcessOutput drawn = run_gnuplot({"gnuplot", stem + ".gp"}, dir);
    if (drawn.exit_code != 0) {
        throw PlotError(fmt::format("gnuplot failed on {}/{}.gp (exit code {}): {}", dir.string(), stem,
                                    drawn.exit_code, drawn.output));
    }
    spdlog::debug("eval: gnuplot drew {}/{}.png and .svg", dir.string(), stem);
}

std::vector<fs::path> write_plots(const fs::path& dir, const std::vector<json>& lines) {
    std::vector<const json*> all;
    std::map<std::string, std::vector<const json*>> by_suite;
    std::set<std::string> protocols;
    for (const json& line : lines) {
        all.push_back(&line);
        by_suite[line.value("suite", std::string("unknown"))].push_back(&line);
        protocols.insert(line.value("protocol", std::string("agnostic")));
    }
    // The title names the protocol; query-aware series also say so in the legend.
    std::string protocol = "query-agnostic";
    if (protocols.count("aware")) protocol = protocols.size() > 1 ? "both protocols" : "query-aware";

    std::vector<fs::path> images;
    draw_plot(dir, "score_vs_ratio", fmt::format("Average score against kept KV-cache fraction, all tasks, {}", protocol),
              plot_series(all));
    images.push_back(dir / "score_vs_ratio.png");
    images.push_back(dir / "score_vs_ratio.svg");
    if (by_suite.size() < 2) return images;

    for (const auto& [suite, suite_lines] : by_suite) {
        const std::string stem = "score_vs_ratio_" + suite;
        draw_plot(dir, stem, fmt::format("Average score against kept KV-cache fraction, {} tasks, {}", suite, protocol),
                  plot_series(suite_lines));
        images.push_back(dir / (stem + ".png"));
        images.push_back(dir / (stem + ".svg"));
    }
    return images;
}

}  // namespace compactor::eval
