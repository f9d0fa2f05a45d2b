// The compressions an evaluation compares: methods with their budget mode,
// ratios, and the protocol that decides when the question is seen.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "compress/compressor.h"

namespace compactor::eval {

enum class Protocol {
    agnostic,  // the context is compressed before the question is seen (the default)
    aware,     // the question is prefilled with the context and protected from eviction
};

// "agnostic" or "aware", as results.jsonl stores it.
const char* to_string(Protocol protocol);
// "query-agnostic" or "query-aware", as reports label it.
const char* protocol_heading(Protocol protocol);
// Throws std::invalid_argument naming the value and the valid names.
Protocol parse_protocol(std::string_view name);

// "per_head" or "per_layer".
const char* to_string(BudgetMode budget);
// Throws std::invalid_argument naming the value and the valid names.
BudgetMode parse_budget(std::string_view name);

struct MethodSpec {
    std::string method;  // one of method_names()
    BudgetMode budget = BudgetMode::per_layer;

    // "none" for the full cache, else "method:budget" ("compactor:per_head").
    std::string label() const;
    // The budget as results.jsonl stores it: empty for "none", which has none.
    std::string budget_name() const;
    bool operator==(const MethodSpec&) const = default;
};

// Parses a comma list such as "none,compactor,compactor:per_head,snapkv";
// a method without ":budget" gets default_budget. Duplicates are dropped and
// the order is kept. Throws std::invalid_argument naming an unknown method or
// budget, or an empty list.
std::vector<MethodSpec> parse_method_list(std::string_view list, BudgetMode default_budget);

// Parses a comma list of compression ratios, each in [0, 1); the result is
// sorted and without duplicates. Throws std::invalid_argument naming a value
// that is not a number or out of range, or an empty list.
std::vector<double> parse_ratio_list(std::string_view list);

// Canonical text of a ratio: the shortest form that reads back to the same
// double ("0.25", "0").
std::string format_ratio(double ratio);

// Source of a quality-budget variant's per-sample ratio.
enum class CalibrationKind { fitted, online };
// "fitted" or "online", as results.jsonl stores it.
const char* to_string(CalibrationKind kind);
// Throws std::invalid_argument naming the value and the valid names.
CalibrationKind parse_calibration_kind(std::string_view name);

// One compression of a sample: a method, its budget and either a fixed
// ratio or a quality budget whose ratio is chosen per sample.
struct Variant {
    MethodSpec spec;
    double ratio = 0;
    double quality = 0;  // τ in (0, 1] for a quality-budget variant, 0 for a fixed ratio
    CalibrationKind calibration = CalibrationKind::fitted;  // quality variants only

    bool has_quality() const { return quality > 0; }
    // "method:budget@ratio", "none@0", or "method:budget@q0.95/fitted";
    // results.jsonl's reused_from field.
    std::string label() const;
    bool keeps_whole_cache() const { return spec.method == "none" || (!has_quality() && ratio == 0.0); }
};

// Every variant a sample runs, in report order: "none" once at ratio 0
// (whatever the ratios), every other method at every ratio, then every
// other method at every quality budget with every calibration kind.
std::vector<Variant> plan_variants(const std::vector<MethodSpec>& methods, const std::vector<double>& ratios,
                                   const std::vector<double>& qualities = {},
                                   const std::vector<CalibrationKind>& kinds = {});

// Parses a comma list of quality budgets, each in (0, 1]; sorted, without
// duplicates. Throws std::invalid_argument naming an invalid value.
std::vector<double> parse_quality_list(std::string_view list);

}  // namespace compactor::eval
