// Averages of result lines: per task, then over tasks so that each task
// weighs the same whatever its sample count.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace compactor::eval {

// A mean score and kept fraction over some samples or tasks.
struct SummaryCell {
    double score = 0;          // in [0, 1]
    double kept_fraction = 0;  // measured rows after / rows before, averaged like the score
    int64_t n_samples = 0;     // result lines behind the cell
    bool complete = false;     // every expected sample of every task is present

    bool empty() const { return n_samples == 0; }
};

// Result lines grouped by task unit (a task at one length, or any grouping
// the caller chooses), row (method label) and ratio.
class ScoreTable {
public:
    // `unit_of` names the unit a line belongs to (for example
    // "ruler/niah_single_1/4096"). Lines whose key repeats an earlier line's
    // are ignored. Throws std::invalid_argument naming a line without the
    // fields the averages need (sample_id, method, budget, ratio, score,
    // kept_fraction).
    ScoreTable(const std::vector<const nlohmann::json*>& lines,
               const std::function<std::string(const nlohmann::json&)>& unit_of);

    // Units in order of first appearance.
    const std::vector<std::string>& units() const { return units_; }
    // Method labels other than "none", in method_names() order, per_layer
    // before per_head.
    const std::vector<std::string>& rows() const { return rows_; }
    // Ratios of those rows, ascending, as format_ratio() writes them.
    const std::vector<std::string>& ratios() const { return ratios_; }
    bool has_full_cache() const { return has_none_; }
    // Distinct samples of a unit over all its lines.
    int64_t n_samples(const std::string& unit) const;

    // Mean over the unit's samples of one row at one ratio; "none" at "0" is
    // the full cache.
    SummaryCell cell(const std::string& unit, const std::string& row, const std::string& ratio) const;
    // Mean over units of cell(unit, row, ratio); units without lines for the
    // row are left out and make the cell incomplete.
    SummaryCell average(const std::string& row, const std::string& ratio) const;
    SummaryCell full_cache(const std::string& unit) const { return cell(unit, "none", "0"); }
    SummaryCell full_cache_average() const { return average("none", "0"); }

private:
    struct Sums {
        double score = 0;
        double kept_fraction = 0;
        std::set<std::string> samples;
    };
    std::vector<std::string> units_;
    std::vector<std::string> rows_;
    std::vector<std::string> ratios_;
    bool has_none_ = false;
    std::map<std::string, std::set<std::string>> unit_samples_;
    std::map<std::tuple<std::string, std::string, std::string>, Sums> sums_;
};

// The label of a line's method: "none" or "method:budget".
std::string row_label(const nlohmann::json& line);

// A section of the summary: one suite at one target length under one protocol.
struct SummaryGroup {
    std::string suite;
    int64_t length = 0;
    std::string protocol;  // "agnostic" or "aware"
    std::vector<const nlohmann::json*> lines;
};

// Lines split into groups, ordered by suite (ruler, then real, then others
// by name), length, then protocol (agnostic first).
std::vector<SummaryGroup> group_lines(const std::vector<nlohmann::json>& lines);

// Compute seconds recorded in the file: per sample and invocation
// (run_id), the sample's wall time counted once.
double summed_compute_s(const std::vector<nlohmann::json>& lines);

}  // namespace compactor::eval
