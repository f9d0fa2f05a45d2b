#include "eval/eval_report.h"

#include <cmath>

#include <fmt/format.h>

#include "compactor/version.h"
#include "eval/eval_summary.h"

namespace compactor::eval {

namespace {

using nlohmann::json;

// Marks a cell that averages fewer samples than its task or suite has.
constexpr const char* kMissingMark = "†";

std::string suite_title(const std::string& suite) {
    if (suite == "ruler") return "RULER";
    if (suite == "real") return "Real documents";
    return suite;
}

std::string task_of(const json& line) { return line.value("task", std::string("unknown")); }

std::string format_score(const SummaryCell& cell) {
    if (cell.empty()) return "–";
    return fmt::format("{:.1f}{}", 100.0 * cell.score, cell.complete ? "" : kMissingMark);
}

std::string format_score_and_kept(const SummaryCell& cell) {
    if (cell.empty()) return "–";
    return fmt::format("{:.1f} ({:.2f}){}", 100.0 * cell.score, cell.kept_fraction, cell.complete ? "" : kMissingMark);
}

std::string format_fraction_of_full(const SummaryCell& cell, const SummaryCell& full) {
    if (cell.empty() || full.empty() || full.score <= 0) return "–";
    const bool complete = cell.complete && full.complete;
    return fmt::format("{:.3f}{}", cell.score / full.score, complete ? "" : kMissingMark);
}

std::string table_row(const std::vector<std::string>& cells) {
    std::string row = "|";
    for (const std::string& cell : cells) row += " " + cell + " |";
    return row + "\n";
}

std::string table_header(const std::vector<std::string>& columns) {
    std::string header = table_row(columns) + "|";
    for (size_t i = 0; i < columns.size(); ++i) header += i == 0 ? "---|" : "---:|";
    return header + "\n";
}

std::string render_header(const std::vector<json>& lines, const ReportContext& context) {
    std::string text = "# compactor eval\n\n";
    text += fmt::format("- Command: `{}`\n", context.command_line);
    text += fmt::format("- Model: {} ({} bytes); compactor {}\n", context.model_name, context.model_bytes, kVersion);
    text += fmt::format("- Date: {}; machine: {}, {} threads\n", context.date, context.machine, context.n_threads);
    text += fmt::format("- Wall time of this invocation: {:.0f} s; compute time summed over results.jsonl: {:.0f} s "
                        "({} result lines)\n\n",
                        context.wall_s, summed_compute_s(lines), lines.size());
    text += "Scores are ×100 and averaged over tasks, each task being the mean over its samples, so tasks weigh "
            "equally. The ratio is the fraction of context tokens removed; kept fractions are measured on the "
            "KV cache (rows after / rows before). Cells marked † miss some samples and average those present.\n";
    return text;
}

std::string render_averages(const ScoreTable& table) {
    const SummaryCell full = table.full_cache_average();
    std::string text = "\n### Average score (kept fraction)\n\n";
    text += fmt::format("Full cache (none): {}\n\n", table.has_full_cache() ? format_score(full) : "not run");
    if (table.rows().empty()) return text;

    std::vector<std::string> columns{"method"};
    for (const std::string& ratio : table.ratios()) columns.push_back("ratio " + ratio);
    text += table_header(columns);
    for (const std::string& row : table.rows()) {
        std::vector<std::string> cells{row};
        for (const std::string& ratio : table.ratios()) cells.push_back(format_score_and_kept(table.average(row, ratio)));
        text += table_row(cells);
    }

    text += "\n### Fraction of the full-cache score\n\n";
    if (!table.has_full_cache()) return text + "Not available: add `none` to --methods.\n";
    text += table_header(columns);
    for (const std::string& row : table.rows()) {
        std::vector<std::string> cells{row};
        for (const std::string& ratio : table.ratios()) {
            cells.push_back(format_fraction_of_full(table.average(row, ratio), full));
        }
        text += table_row(cells);
    }
    return text;
}

// `column` names what the table's columns are: "ratio" or "quality budget".
std::string render_per_task(const ScoreTable& table, const std::string& ratio, const char* column = "ratio") {
    std::string text = fmt::format("\n### Per task at {} {}\n\n", column, ratio);
    std::vector<std::string> columns{"task", "samples", "full cache"};
    columns.insert(columns.end(), table.rows().begin(), table.rows().end());
    text += table_header(columns);

    for (const std::string& task : table.units()) {
        std::vector<std::string> cells{task, std::to_string(table.n_samples(task)), format_score(table.full_cache(task))};
        for (const std::string& row : table.rows()) cells.push_back(format_score(table.cell(task, row, ratio)));
        text += table_row(cells);
    }
    std::vector<std::string> cells{"**average**", "", format_score(table.full_cache_average())};
    for (const std::string& row : table.rows()) cells.push_back(format_score(table.average(row, ratio)));
    return text + table_row(cells);
}

bool is_quality_line(const json& line) {
    const auto it = line.find("calibration");
    return it != line.end() && !it->is_null();
}

// Quality-budget variants: per method and calibration kind, the average
// score and kept fraction at each budget τ, next to the full cache.
std::string render_quality(const ScoreTable& table) {
    const SummaryCell full = table.full_cache_average();
    std::string text = "\n### Quality budgets: average score (kept fraction)\n\n";
    text += "Each sample's ratio was chosen for the budget τ by a fitted calibration file or by online probes of "
            "the document; the kept fraction is the mean measured one.\n\n";
    text += fmt::format("Full cache (none): {}\n\n", table.has_full_cache() ? format_score(full) : "not run");

    std::vector<std::string> columns{"method / calibration"};
    for (const std::string& tau : table.ratios()) columns.push_back("τ " + tau);
    text += table_header(columns);
    for (const std::string& row : table.rows()) {
        std::vector<std::string> cells{row};
        for (const std::string& tau : table.ratios()) cells.push_back(format_score_and_kept(table.average(row, tau)));
        text += table_row(cells);
    }
    if (table.has_full_cache()) {
        text += "\n### Quality budgets: fraction of the full-cache score\n\n";
        text += table_header(columns);
        for (const std::string& row : table.rows()) {
            std::vector<std::string> cells{row};
            for (const std::string& tau : table.ratios()) {
                cells.push_back(format_fraction_of_full(table.average(row, tau), full));
            }
            text += table_row(cells);
        }
    }
    for (const std::string& tau : table.ratios()) text += render_per_task(table, tau, "quality budget");
    return text;
}

std::string render_group(const SummaryGroup& group) {
    const std::string protocol = group.protocol == "aware" ? "query-aware" : "query-agnostic";
    std::string text = fmt::format("\n## {}, {} tokens, {}\n\n", suite_title(group.suite), group.length, protocol);

    // Fixed-ratio tables leave quality-budget lines out; the quality
    // section takes them with the full cache for reference.
    std::vector<const json*> fixed_lines;
    std::vector<const json*> quality_lines;
    bool has_quality = false;
    for (const json* line : group.lines) {
        const bool quality = is_quality_line(*line);
        has_quality = has_quality || quality;
        if (!quality) fixed_lines.push_back(line);
        if (quality || line->value("method", std::string()) == "none") quality_lines.push_back(line);
    }

    const ScoreTable table(fixed_lines, task_of);
    int64_t n_samples = 0;
    for (const std::string& task : table.units()) n_samples += table.n_samples(task);
    text += fmt::format("Tasks: {}; samples: {}; result lines: {}.\n", table.units().size(), n_samples,
                        group.lines.size());
    if (group.protocol == "aware") {
        text += "Query-aware: the question was prefilled with the context and protected from eviction.\n";
    }

    text += render_averages(table);
    // A run of "none" alone still gets its per-task full-cache scores.
    std::vector<std::string> ratios = table.ratios();
    if (ratios.empty() && table.has_full_cache()) ratios.push_back("0");
    for (const std::string& ratio : ratios) text += render_per_task(table, ratio);
    if (has_quality) text += render_quality(ScoreTable(quality_lines, task_of));
    return text;
}

}  // namespace

std::string render_summary(const std::vector<json>& lines, const ReportContext& context) {
    std::string text = render_header(lines, context);
    for (const SummaryGroup& group : group_lines(lines)) text += render_group(group);
    if (lines.empty()) text += "\nNo results yet.\n";
    return text;
}

}  // namespace compactor::eval
