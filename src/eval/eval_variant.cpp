#include "eval/eval_variant.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "eval/eval_list.h"

namespace compactor::eval {

const char* to_string(Protocol protocol) { return protocol == Protocol::aware ? "aware" : "agnostic"; }

const char* protocol_heading(Protocol protocol) {
    return protocol == Protocol::aware ? "query-aware" : "query-agnostic";
}

Protocol parse_protocol(std::string_view name) {
    if (name == "agnostic") return Protocol::agnostic;
    if (name == "aware") return Protocol::aware;
    throw std::invalid_argument(fmt::format("protocol '{}' is unknown; use agnostic or aware", name));
}

const char* to_string(BudgetMode budget) { return budget == BudgetMode::per_head ? "per_head" : "per_layer"; }

BudgetMode parse_budget(std::string_view name) {
    if (name == "per_head") return BudgetMode::per_head;
    if (name == "per_layer") return BudgetMode::per_layer;
    throw std::invalid_argument(fmt::format("budget '{}' is unknown; use per_head or per_layer", name));
}

std::string MethodSpec::label() const {
    if (method == "none") return method;
    return method + ":" + to_string(budget);
}

std::string MethodSpec::budget_name() const { return method == "none" ? "" : to_string(budget); }

std::vector<MethodSpec> parse_method_list(std::string_view list, BudgetMode default_budget) {
    const std::vector<std::string>& known = method_names();
    std::vector<MethodSpec> specs;
    for (const std::string& item : split_comma_list(list)) {
        if (item.empty()) {
            throw std::invalid_argument(fmt::format(
                "method list '{}' has an empty item; separate method names with single commas", list));
        }
        MethodSpec spec{item, default_budget};
        if (const size_t colon = item.find(':'); colon != std::string::npos) {
            spec.method = item.substr(0, colon);
            const std::string budget = item.substr(colon + 1);
            if (budget != "per_head" && budget != "per_layer") {
                throw std::invalid_argument(fmt::format(
                    "budget '{}' of method '{}' is unknown; write {}:per_head or {}:per_layer", budget, item,
                    spec.method, spec.method));
            }
            spec.budget = parse_budget(budget);
        }
        if (std::find(known.begin(), known.end(), spec.method) == known.end()) {
            throw std::invalid_argument(
                fmt::format("method '{}' is unknown; use one of {}", spec.method, fmt::join(known, ", ")));
        }
        if (spec.method == "none") spec.budget = default_budget;
        if (std::find(specs.begin(), specs.end(), spec) == specs.end()) specs.push_back(spec);
    }
    return specs;
}

std::vector<double> parse_ratio_list(std::string_view list) {
    std::vector<double> ratios;
    for (const std::string& item : split_comma_list(list)) {
        double ratio = 0;
        const char* end = item.data() + item.size();
        const auto [ptr, error] = std::from_chars(item.data(), end, ratio);
        if (item.empty() || error != std::errc() || ptr != end) {
            throw std::invalid_argument(fmt::format(
                "ratio '{}' in '{}' is not a number; write fractions of tokens removed, such as 0,0.5,0.9", item,
                list));
        }
        if (!std::isfinite(ratio) || ratio < 0.0 || ratio >= 1.0) {
            throw std::invalid_argument(fmt::format(
                "ratio {} is invalid; a ratio is the fraction of context tokens removed, in [0, 1)", item));
        }
        ratios.push_back(ratio);
    }
    std::sort(ratios.begin(), ratios.end());
    ratios.erase(std::unique(ratios.begin(), ratios.end()), ratios.end());
    return ratios;
}

std::string format_ratio(double ratio) { return fmt::format("{}", ratio); }

const char* to_string(CalibrationKind kind) { return kind == CalibrationKind::online ? "online" : "fitted"; }

CalibrationKind parse_calibration_kind(std::string_view name) {
    if (name == "fitted") return CalibrationKind::fitted;
    if (name == "online") return CalibrationKind::online;
    throw std::invalid_argument(fmt::format("calibration kind '{}' is unknown; use fitted or online", name));
}

std::string Variant::label() const {
    if (has_quality()) return fmt::format("{}@q{}/{}", spec.label(), format_ratio(quality), to_string(calibration));
    return spec.label() + "@" + format_ratio(ratio);
}

std::vector<Variant> plan_variants(const std::vector<MethodSpec>& methods, const std::vector<double>& ratios,
                                   const std::vector<double>& qualities, const std::vector<CalibrationKind>& kinds) {
    std::vector<Variant> variants;
    for (const MethodSpec& spec : methods) {
        if (spec.method == "none") {
            variants.push_back({spec, 0.0});
            continue;
        }
        for (double ratio : ratios) variants.push_back({spec, ratio});
    }
    for (const MethodSpec& spec : methods) {
        if (spec.method == "none") continue;
        for (const CalibrationKind kind : kinds) {
            for (const double quality : qualities) variants.push_back({spec, 0.0, quality, kind});
        }
    }
    return variants;
}

std::vector<double> parse_quality_list(std::string_view list) {
    std::vector<double> qualities;
    for (const std::string& item : split_comma_list(list)) {
        double quality = 0;
        const char* end = item.data() + item.size();
        const auto [ptr, error] = std::from_chars(item.data(), end, quality);
        if (item.empty() || error != std::errc() || ptr != end || !(quality > 0.0 && quality <= 1.0)) {
            throw std::invalid_argument(fmt::format(
                "quality budget '{}' in '{}' is invalid; write values in (0, 1] such as 0.9,0.95,0.99", item, list));
        }
        qualities.push_back(quality);
    }
    std::sort(qualities.begin(), qualities.end());
    qualities.erase(std::unique(qualities.begin(), qualities.end()), qualities.end());
    return qualities;
}

}  // namespace compactor::eval
