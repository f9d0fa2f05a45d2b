// results.jsonl: one JSON object per sample × method × budget × ratio, the
// record a resumed run reads back to skip what is already done.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/calibration_file.h"
#include "eval/eval_variant.h"

namespace compactor::eval {

// The key of a result line: (sample_id, method, budget, ratio, protocol,
// calibration). The ratio is compared through format_ratio(), so 0.5 read
// back from JSON equals the 0.5 of --ratios. Quality-budget lines, whose
// ratio differs per sample, are keyed by their budget τ in `ratio` and their
// calibration kind in `calibration` (empty for fixed-ratio lines).
struct ResultKey {
    std::string sample_id;
    std::string method;
    std::string budget;  // empty for "none"
    std::string ratio;   // format_ratio(ratio)
    std::string protocol;
    std::string calibration;

    auto operator<=>(const ResultKey&) const = default;
    std::string to_string() const;
};

ResultKey result_key(const std::string& sample_id, const Variant& variant, Protocol protocol);

// The key of a results.jsonl line. Throws std::invalid_argument naming the
// first missing or mistyped key field.
ResultKey result_key(const nlohmann::json& line);

// The lines of a results.jsonl file as read at start.
struct ResultLines {
    std::vector<nlohmann::json> lines;
    bool dropped_truncated_line = false;  // the last line did not parse and was dropped
};

// Parse results.jsonl text. A last line that does not parse is taken for the
// remains of a killed run and dropped; any other bad line throws
// std::runtime_error naming `source` and the line number. Blank lines are skipped.
ResultLines parse_result_lines(const std::string& text, const std::string& source);

// The results file of one output folder, appended to as samples finish.
class ResultsFile {
public:
    // Read `path` when it exists. A dropped truncated last line is logged as
    // a warning and the file is rewritten without it.
    explicit ResultsFile(std::filesystem::path path);

    const std::filesystem::path& path() const { return path_; }
    const std::vector<nlohmann::json>& lines() const { return lines_; }
    bool contains(const ResultKey& key) const { return keys_.count(key) != 0; }

    // Lines written for another model file or other settings cannot be
    // compared with this run's: throws std::runtime_error naming both values
    // and the fix (another --out). `settings` is the object every line
    // stores under "settings".
    void check_compatible(const std::string& model_name, uint64_t model_bytes, const nlohmann::json& settings) const;

    // Fitted quality lines are keyed by τ only, so lines made with another
    // fit would count as done. Throws std::runtime_error when a line's
    // calibration_alpha or calibration_beta differs from the fit this run
    // uses for its method and budget. `fits` is keyed by "method:budget".
    void check_fits_match(const std::map<std::string, calibrate::Calibration>& fits) const;

    // Append lines, one JSON object each, and flush them to disk. Throws
    // std::runtime_error when the file cannot be written.
    void append(const std::vector<nlohmann::json>& new_lines);

private:
    std::filesystem::path path_;
    std::vector<nlohmann::json> lines_;
    std::set<ResultKey> keys_;
};

}  // namespace compactor::eval
