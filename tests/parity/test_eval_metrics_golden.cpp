// compactor-test-libs: compactor_eval
// Every answer metric against tests/golden/metrics.jsonl: scores that
// tools/metrics_golden.py computed with LongBench's and RULER's definitions,
// the `rouge` package and fuzzywuzzy, for hand-written edge cases and
// perturbed LongBench answers.
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "eval/sample.h"
#include "support/paths.h"

namespace compactor::test {
namespace {

struct GoldenCase {
    std::string name;
    eval::Sample sample;
    std::string prediction;
    double score = 0;
};

std::vector<GoldenCase> read_cases() {
    std::ifstream in(golden_path("metrics.jsonl"));
    EXPECT_TRUE(in) << "missing " << golden_path("metrics.jsonl") << "; run python tools/metrics_golden.py";
    std::vector<GoldenCase> cases;
    std::string line;
    while (std::getline(in, line)) {
        const nlohmann::json json = nlohmann::json::parse(line);
        GoldenCase item;
        item.name = json.at("name").get<std::string>();
        item.sample.id = item.name;
        item.sample.metric = json.at("metric").get<std::string>();
        item.sample.references = json.at("references").get<std::vector<std::string>>();
        if (json.contains("all_classes")) {
            item.sample.all_classes = json.at("all_classes").get<std::vector<std::string>>();
        }
        item.sample.first_line_only = json.at("first_line_only").get<bool>();
        item.prediction = json.at("prediction").get<std::string>();
        item.score = json.at("score").get<double>();
        cases.push_back(std::move(item));
    }
    return cases;
}

// Metrics whose scores are ratios of small counts: they must agree exactly.
bool is_exact_metric(const std::string& metric) {
    return metric == "count" || metric == "retrieval" || metric == "classification" ||
           metric == "string_match_all" || metric == "string_match_any";
}

TEST(MetricsGolden, EveryCaseMatchesReference) {
    const std::vector<GoldenCase> cases = read_cases();
    ASSERT_GE(cases.size(), 200u);

    std::map<std::string, int> n_per_metric;
    for (const GoldenCase& item : cases) {
        const double score = eval::score_prediction(item.sample, item.prediction);
        if (is_exact_metric(item.sample.metric)) {
            EXPECT_EQ(score, item.score) << item.name << ": prediction \"" << item.prediction << "\"";
        } else {
            EXPECT_NEAR(score, item.score, 1e-6) << item.name << ": prediction \"" << item.prediction << "\"";
        }
        EXPECT_GE(score, 0.0) << item.name;
        EXPECT_LE(score, 1.0) << item.name;
        ++n_per_metric[item.sample.metric];
    }

    // The golden file covers every metric.
    for (const std::string& metric : eval::metric_names()) {
        EXPECT_GE(n_per_metric[metric], 8) << "too few golden cases for " << metric;
    }
}

TEST(MetricsGolden, GoldenScoresAreNotTrivial) {
    // A file of all zeros or all ones would let a broken metric pass.
    std::map<std::string, std::set<double>> distinct;
    for (const GoldenCase& item : read_cases()) distinct[item.sample.metric].insert(item.score);
    for (const auto& [metric, scores] : distinct) EXPECT_GE(scores.size(), 2u) << metric;
}

}  // namespace
}  // namespace compactor::test
