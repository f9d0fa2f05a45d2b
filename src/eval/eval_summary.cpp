#include "eval/eval_summary.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "compress/compressor.h"
#include "eval/eval_results.h"
#include "eval/eval_variant.h"

namespace compactor::eval {

namespace {

using nlohmann::json;

double number_field(const json& line, const char* key) {
    const auto it = line.find(key);
    if (it == line.end() || !it->is_number()) {
        throw std::invalid_argument(fmt::format("result line of {} has no number \"{}\"",
                                                line.value("sample_id", std::string("?")), key));
    }
    return it->get<double>();
}

// Sort key of a row label: position in method_names(), then per_layer
// before per_head; unknown methods go last, by name.
std::tuple<size_t, int, std::string> row_order(const std::string& row) {
    const size_t colon = row.find(':');
    const size_t slash = row.find('/');
    const std::string method = row.substr(0, colon);
    const std::string budget = colon == std::string::npos ? "" : row.substr(colon + 1, slash - colon - 1);
    const std::vector<std::string>& names = method_names();
    const auto it = std::find(names.begin(), names.end(), method);
    const auto position = static_cast<size_t>(it - names.begin());
    return {position, budget == "per_head" ? 1 : 0, row};
}

int suite_order(const std::string& suite) {
    if (suite == "ruler") return 0;
    if (suite == "real") return 1;
    return 2;
}

}  // namespace

std::string row_label(const json& line) {
    const ResultKey key = result_key(line);
    const std::string label = key.budget.empty() ? key.method : key.method + ":" + key.budget;
    return key.calibration.empty() ? label : label + "/" + key.calibration;
}

ScoreTable::ScoreTable(const std::vector<const json*>& lines, const std::function<std::string(const json&)>& unit_of) {
    std::set<ResultKey> seen;
    std::set<std::string> rows;
    std::set<std::string> ratios;
    for (const json* line : lines) {
        const ResultKey key = result_key(*line);
        if (!seen.insert(key).second) continue;
        const double score = number_field(*line, "score");
        const double kept = number_field(*line, "kept_fraction");

        const std::string unit = unit_of(*line);
        if (!unit_samples_.count(unit)) units_.push_back(unit);
        unit_samples_[unit].insert(key.sample_id);

        const std::string row = row_label(*line);
        if (row == "none") {
            has_none_ = true;
        } else {
            rows.insert(row);
            ratios.insert(key.ratio);
        }
        Sums& sums = sums_[{unit, row, key.ratio}];
        sums.score += score;
        sums.kept_fraction += kept;
        sums.samples.insert(key.sample_id);
    }

    rows_.assign(rows.begin(), rows.end());
    std::sort(rows_.begin(), rows_.end(),
              [](const std::string& a, const std::string& b) { return row_order(a) < row_order(b); });
    ratios_.assign(ratios.begin(), ratios.end());
    std::sort(ratios_.begin(), ratios_.end(),
              [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
}

int64_t ScoreTable::n_samples(const std::string& unit) const {
    const auto it = unit_samples_.find(unit);
    return it == unit_samples_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

SummaryCell ScoreTable::cell(const std::string& unit, const std::string& row, const std::string& ratio) const {
    SummaryCell cell;
    const auto it = sums_.find({unit, row, ratio});
    if (it == sums_.end()) return cell;
    const Sums& sums = it->second;
    const auto n = static_cast<double>(sums.samples.size());
    cell.score = sums.score / n;
    cell.kept_fraction = sums.kept_fraction / n;
    cell.n_samples = static_cast<int64_t>(sums.samples.size());
    cell.complete = cell.n_samples == n_samples(unit);
    return cell;
}

SummaryCell ScoreTable::average(const std::string& row, const std::string& ratio) const {
    SummaryCell average;
    average.complete = true;
    int64_t n_units = 0;
    for (const std::string& unit : units_) {
        const SummaryCell unit_cell = cell(unit, row, ratio);
        if (unit_cell.empty()) {
            average.complete = false;
            continue;
        }
        average.score += unit_cell.score;
        average.kept_fraction += unit_cell.kept_fraction;
        average.n_samples += unit_cell.n_samples;
        average.complete = average.complete && unit_cell.complete;
        ++n_units;
    }
    if (n_units == 0) return SummaryCell{};
    average.score /= static_cast<double>(n_units);
    average.kept_fraction /= static_cast<double>(n_units);
    return average;
}

std::vector<SummaryGroup> group_lines(const std::vector<json>& lines) {
    std::map<std::tuple<int, std::string, int64_t, std::string>, SummaryGroup> groups;
    for (const json& line : lines) {
        const std::string suite = line.value("suite", std::string("unknown"));
        const int64_t length = line.value("length", int64_t{0});
        const std::string protocol = line.value("protocol", std::string("agnostic"));
        SummaryGroup& group = groups[{suite_order(suite), suite, length, protocol}];
        group.suite = suite;
        group.length = length;
        group.protocol = protocol;
        group.lines.push_back(&line);
    }
    std::vector<SummaryGroup> ordered;
    for (auto& [key, group] : groups) ordered.push_back(std::move(group));
    return ordered;
}

double summed_compute_s(const std::vector<json>& lines) {
    std::set<std::pair<std::string, std::string>> counted;
    double total = 0;
    for (const json& line : lines) {
        const std::pair<std::string, std::string> sample_run{line.value("run_id", std::string()),
                                                             line.value("sample_id", std::string())};
        if (!counted.insert(sample_run).second) continue;
        total += line.value("sample_wall_s", 0.0);
    }
    return total;
}

}  // namespace compactor::eval
