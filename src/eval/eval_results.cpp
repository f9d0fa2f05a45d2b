#include "eval/eval_results.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/json_text.h"

namespace compactor::eval {

namespace {

using nlohmann::json;

std::string string_field(const json& line, const char* key) {
    const auto it = line.find(key);
    if (it == line.end()) throw std::invalid_argument(fmt::format("result line has no \"{}\"", key));
    if (!it->is_string()) throw std::invalid_argument(fmt::format("result line's \"{}\" is not a string", key));
    return it->get<std::string>();
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("cannot read {}: check its permissions", path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_lines(const std::filesystem::path& path, const std::vector<json>& lines, std::ios::openmode mode) {
    std::ofstream out(path, std::ios::binary | mode);
    // A prediction cut at its token limit can end inside a UTF-8 character.
    // json_text writes such bytes as U+FFFD instead of throwing after the
    // sample's compute is spent.
    for (const json& line : lines) out << json_text(line) << '\n';
    out.flush();
    if (!out) {
        throw std::runtime_error(
            fmt::format("cannot write {}: check the folder's permissions and free disk space", path.string()));
    }
}

// The first key whose value differs between two settings objects, or "".
std::string first_difference(const json& expected, const json& found) {
    for (const auto& [key, value] : expected.items()) {
        if (!found.contains(key) || found[key] != value) return key;
    }
    for (const auto& [key, value] : found.items()) {
        if (!expected.contains(key)) return key;
    }
    return "";
}

}  // namespace

std::string ResultKey::to_string() const {
    const std::string method_label = budget.empty() ? method : method + ":" + budget;
    if (!calibration.empty()) return fmt::format("{} {}@q{}/{} ({})", sample_id, method_label, ratio, calibration, protocol);
    return fmt::format("{} {}@{} ({})", sample_id, method_label, ratio, protocol);
}

ResultKey result_key(const std::string& sample_id, const Variant& variant, Protocol protocol) {
    if (variant.has_quality()) {
        return {sample_id, variant.spec.method, variant.spec.budget_name(), format_ratio(variant.quality),
                eval::to_string(protocol), to_string(variant.calibration)};
    }
    return {sample_id, variant.spec.method, variant.spec.budget_name(), format_ratio(variant.ratio),
            eval::to_string(protocol), ""};
}

ResultKey result_key(const json& line) {
    if (!line.is_object()) throw std::invalid_argument("result line is not a JSON object");
    ResultKey key;
    key.sample_id = string_field(line, "sample_id");
    key.method = string_field(line, "method");
    key.protocol = string_field(line, "protocol");

    const auto budget = line.find("budget");
    if (budget == line.end()) throw std::invalid_argument("result line has no \"budget\"");
    if (budget->is_string()) {
        key.budget = budget->get<std::string>();
    } else if (!budget->is_null()) {
        throw std::invalid_argument("result line's \"budget\" is neither a string nor null");
    }

    const auto ratio = line.find("ratio");
    if (ratio == line.end()) throw std::invalid_argument("result line has no \"ratio\"");
    if (!ratio->is_number()) throw std::invalid_argument("result line's \"ratio\" is not a number");
    key.ratio = format_ratio(ratio->get<double>());

    const auto calibration = line.find("calibration");
    if (calibration == line.end() || calibration->is_null()) return key;
    const auto quality = line.find("quality");
    if (!calibration->is_string() || quality == line.end() || !quality->is_number()) {
        throw std::invalid_argument("result line has a \"calibration\" but no number \"quality\"");
    }
    key.calibration = calibration->get<std::string>();
    key.ratio = format_ratio(quality->get<double>());
    return key;
}

ResultLines parse_result_lines(const std::string& text, const std::string& source) {
    ResultLines result;
    std::istringstream in(text);
    std::vector<std::string> raw_lines;
    for (std::string raw; std::getline(in, raw);) {
        if (raw.find_first_not_of(" \t\r") != std::string::npos) raw_lines.push_back(std::move(raw));
    }

    for (size_t i = 0; i < raw_lines.size(); ++i) {
        const bool last = i + 1 == raw_lines.size();
        json line = json::parse(raw_lines[i], nullptr, /*allow_exceptions=*/false);
        if (line.is_discarded() && last) {
            result.dropped_truncated_line = true;
            break;
        }
        try {
            if (line.is_discarded()) throw std::invalid_argument("it is not valid JSON");
            result_key(line);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(fmt::format(
                "{} line {} is invalid: {}; delete or repair that line, or write to another --out folder", source,
                i + 1, e.what()));
        }
        result.lines.push_back(std::move(line));
    }
    return result;
}

ResultsFile::ResultsFile(std::filesystem::path path) : path_(std::move(path)) {
    std::error_code error;
    if (!std::filesystem::exists(path_, error)) return;

    ResultLines parsed = parse_result_lines(read_text(path_), path_.string());
    if (parsed.dropped_truncated_line) {
        spdlog::warn("eval: the last line of {} is incomplete (an interrupted run); dropping it", path_.string());
        write_lines(path_, parsed.lines, std::ios::trunc);
    }
    lines_ = std::move(parsed.lines);
    for (const json& line : lines_) keys_.insert(result_key(line));
}

void ResultsFile::check_compatible(const std::string& model_name, uint64_t model_bytes, const json& settings) const {
    for (size_t i = 0; i < lines_.size(); ++i) {
        const json& line = lines_[i];
        const std::string line_model = line.value("model", std::string());
        const uint64_t line_bytes = line.value("model_bytes", uint64_t{0});
        if (line_model != model_name || line_bytes != model_bytes) {
            throw std::runtime_error(fmt::format(
                "{} line {} holds results of model file {} ({} bytes), but this run uses {} ({} bytes); "
                "write to another --out folder, or pass the same --model to resume",
                path_.string(), i + 1, line_model, line_bytes, model_name, model_bytes));
        }

        const json line_settings = line.value("settings", json::object());
        if (const std::string key = first_difference(settings, line_settings); !key.empty()) {
            throw std::runtime_error(fmt::format(
                "{} line {} was run with {} = {}, but this run has {} = {}; write to another --out folder, or "
                "repeat the earlier options to resume",
                path_.string(), i + 1, key, json_text(line_settings.value(key, json())), key,
                json_text(settings.value(key, json()))));
        }
    }
}

void ResultsFile::check_fits_match(const std::map<std::string, calibrate::Calibration>& fits) const {
    for (size_t i = 0; i < lines_.size(); ++i) {
        const json& line = lines_[i];
        if (line.value("calibration", json()) != "fitted") continue;
        const std::string label = line.value("method", std::string()) + ":" + line.value("budget", std::string());
        const auto fit = fits.find(label);
        const auto alpha = line.find("calibration_alpha");
        const auto beta = line.find("calibration_beta");
        if (fit == fits.end() || alpha == line.end() || beta == line.end()) continue;
        if (!alpha->is_number() || !beta->is_number()) continue;

        const double line_alpha = alpha->get<double>();
        const double line_beta = beta->get<double>();
        if (line_alpha != fit->second.fit.alpha || line_beta != fit->second.fit.beta) {
            throw std::runtime_error(fmt::format(
                "{} line {} chose its ratio with a {} fit of alpha {} and beta {}, but this run's calibration has "
                "alpha {} and beta {}; write to another --out folder, or pass the earlier file with --calibration "
                "to resume",
                path_.string(), i + 1, label, line_alpha, line_beta, fit->second.fit.alpha, fit->second.fit.beta));
        }
    }
}

void ResultsFile::append(const std::vector<json>& new_lines) {
    if (new_lines.empty()) return;
    write_lines(path_, new_lines, std::ios::app);
    for (const json& line : new_lines) {
        keys_.insert(result_key(line));
        lines_.push_back(line);
    }
}

}  // namespace compactor::eval
