// compactor-test-libs: compactor_eval compactor_engine
// The evaluation runner's bookkeeping on synthetic result lines: option
// lists, variant planning, result keys, resume from a truncated file,
// averaging over tasks, the Markdown summary and the plot series.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/eval_kept_rows.h"
#include "eval/eval_plot.h"
#include "eval/eval_report.h"
#include "eval/eval_results.h"
#include "eval/eval_summary.h"
#include "eval/eval_variant.h"
#include "kv/kv_cache.h"

namespace compactor::eval {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A result line with the fields the summary reads.
json line(const std::string& task, int index, const std::string& method, const std::string& budget, double ratio,
          double score, double kept, const std::string& suite = "ruler") {
    return {
        {"sample_id", task + "/4096/" + std::to_string(index)},
        {"suite", suite},
        {"task", task},
        {"length", 4096},
        {"method", method},
        {"budget", budget.empty() ? json(nullptr) : json(budget)},
        {"ratio", ratio},
        {"protocol", "agnostic"},
        {"score", score},
        {"kept_fraction", kept},
        {"model", "m.gguf"},
        {"model_bytes", 100},
        {"run_id", "run-1"},
        {"sample_wall_s", 2.0},
        {"settings", {{"blend", 0.3}}},
    };
}

std::vector<const json*> pointers(const std::vector<json>& lines) {
    std::vector<const json*> out;
    for (const json& one : lines) out.push_back(&one);
    return out;
}

std::string task_of(const json& one) { return one.at("task").get<std::string>(); }

// A folder under the system temp dir, removed at the end of the test.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "compactor-eval-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(EvalVariant, MethodListWithBudgets) {
    const std::vector<MethodSpec> specs =
        parse_method_list("none, compactor,compactor:per_head,snapkv,compactor:per_layer", BudgetMode::per_layer);
    ASSERT_EQ(specs.size(), 4u);  // compactor:per_layer repeats "compactor" and is dropped
    EXPECT_EQ(specs[0].label(), "none");
    EXPECT_EQ(specs[0].budget_name(), "");
    EXPECT_EQ(specs[1].label(), "compactor:per_layer");
    EXPECT_EQ(specs[2].label(), "compactor:per_head");
    EXPECT_EQ(specs[3].label(), "snapkv:per_layer");
}

TEST(EvalVariant, MethodListErrors) {
    EXPECT_THROW(parse_method_list("compactor,bogus", BudgetMode::per_layer), std::invalid_argument);
    EXPECT_THROW(parse_method_list("compactor:per_token", BudgetMode::per_layer), std::invalid_argument);
    EXPECT_THROW(parse_method_list("compactor,,none", BudgetMode::per_layer), std::invalid_argument);
    try {
        parse_method_list("bogus", BudgetMode::per_layer);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("compactor"), std::string::npos) << e.what();
    }
}

TEST(EvalVariant, RatioListSortedAndChecked) {
    EXPECT_EQ(parse_ratio_list("0.5, 0,0.25,0.5"), (std::vector<double>{0.0, 0.25, 0.5}));
    for (const char* bad : {"1", "1.5", "-0.1", "abc", "", "0.5,", "nan"}) {
        EXPECT_THROW(parse_ratio_list(bad), std::invalid_argument) << bad;
    }
    EXPECT_EQ(format_ratio(0.25), "0.25");
    EXPECT_EQ(format_ratio(0.0), "0");
}

TEST(EvalVariant, PlanRunsNoneOnceAtZero) {
    const std::vector<MethodSpec> specs = parse_method_list("none,compactor,snapkv:per_head", BudgetMode::per_layer);
    const std::vector<Variant> variants = plan_variants(specs, {0.25, 0.5});
    ASSERT_EQ(variants.size(), 5u);
    EXPECT_EQ(variants[0].label(), "none@0");
    EXPECT_TRUE(variants[0].keeps_whole_cache());
    EXPECT_EQ(variants[1].label(), "compactor:per_layer@0.25");
    EXPECT_FALSE(variants[1].keeps_whole_cache());
    EXPECT_EQ(variants[4].label(), "snapkv:per_head@0.5");
}

TEST(EvalResults, KeyFromLine) {
    const ResultKey none_key = result_key(line("vt", 0, "none", "", 0.0, 1, 1));
    EXPECT_EQ(none_key.sample_id, "vt/4096/0");
    EXPECT_EQ(none_key.budget, "");
    EXPECT_EQ(none_key.ratio, "0");
    EXPECT_EQ(none_key.protocol, "agnostic");

    // A ratio read back from JSON equals the one planned from --ratios.
    const json parsed = json::parse(line("vt", 0, "compactor", "per_head", 0.1, 1, 1).dump());
    Variant variant;
    variant.spec = parse_method_list("compactor:per_head", BudgetMode::per_layer).at(0);
    variant.ratio = parse_ratio_list("0.1").at(0);
    EXPECT_EQ(result_key(parsed), result_key("vt/4096/0", variant, Protocol::agnostic));
    EXPECT_NE(result_key(parsed), result_key("vt/4096/0", variant, Protocol::aware));

    json no_ratio = line("vt", 0, "none", "", 0.0, 1, 1);
    no_ratio.erase("ratio");
    EXPECT_THROW(result_key(no_ratio), std::invalid_argument);
    json bad_budget = line("vt", 0, "compactor", "per_head", 0.5, 1, 1);
    bad_budget["budget"] = 3;
    EXPECT_THROW(result_key(bad_budget), std::invalid_argument);
}

TEST(EvalResults, TruncatedLastLineDropped) {
    const std::string text = line("vt", 0, "none", "", 0, 1, 1).dump() + "\n" +
                             line("vt", 1, "none", "", 0, 0, 1).dump() + "\n" + "{\"sample_id\": \"vt/40";
    const ResultLines parsed = parse_result_lines(text, "results.jsonl");
    EXPECT_TRUE(parsed.dropped_truncated_line);
    ASSERT_EQ(parsed.lines.size(), 2u);
    EXPECT_EQ(parsed.lines[1]["sample_id"], "vt/4096/1");
}

TEST(EvalResults, BadMiddleLineNamed) {
    const std::string text = line("vt", 0, "none", "", 0, 1, 1).dump() + "\nnot json\n" +
                             line("vt", 1, "none", "", 0, 0, 1).dump() + "\n";
    try {
        parse_result_lines(text, "out/results.jsonl");
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("out/results.jsonl line 2"), std::string::npos) << e.what();
    }
    const std::string no_key = "{\"sample_id\": \"a\"}\n" + line("vt", 1, "none", "", 0, 0, 1).dump() + "\n";
    EXPECT_THROW(parse_result_lines(no_key, "r"), std::runtime_error);
}

TEST(EvalResults, ResumeRewritesTruncatedFile) {
    ScratchDir dir;
    const fs::path path = dir.path() / "results.jsonl";
    const json first = line("vt", 0, "none", "", 0, 1, 1);
    std::ofstream(path) << first.dump() << "\n" << "{\"sample_id\": \"vt/4096/1\", \"meth";

    ResultsFile results(path);
    ASSERT_EQ(results.lines().size(), 1u);
    EXPECT_EQ(read_all(path), first.dump() + "\n");
    const Variant none{{"none", BudgetMode::per_layer}, 0.0};
    EXPECT_TRUE(results.contains(result_key("vt/4096/0", none, Protocol::agnostic)));
    EXPECT_FALSE(results.contains(result_key("vt/4096/1", none, Protocol::agnostic)));

    const json second = line("vt", 1, "none", "", 0, 0, 1);
    results.append({second});
    EXPECT_TRUE(results.contains(result_key("vt/4096/1", none, Protocol::agnostic)));
    EXPECT_EQ(read_all(path), first.dump() + "\n" + second.dump() + "\n");
    EXPECT_EQ(ResultsFile(path).lines().size(), 2u);
}

// A prediction cut at its token limit can end inside a UTF-8 character. The
// line is still written, with the cut bytes as U+FFFD, and reads back.
TEST(EvalResults, AppendRepairsCutUtf8) {
    ScratchDir dir;
    const fs::path path = dir.path() / "results.jsonl";
    json cut = line("qa_1", 0, "none", "", 0, 0, 1);
    cut["prediction"] = std::string("caf\xC3");
    cut["question"] = std::string("\xE4\xB8 ok");

    ResultsFile results(path);
    ASSERT_NO_THROW(results.append({cut}));
    const ResultsFile reread(path);
    ASSERT_EQ(reread.lines().size(), 1u);
    EXPECT_EQ(reread.lines()[0]["prediction"], "caf\xEF\xBF\xBD");
    EXPECT_EQ(reread.lines()[0]["question"], "\xEF\xBF\xBD ok");
}

TEST(EvalResults, OtherModelOrSettingsRejected) {
    ScratchDir dir;
    const fs::path path = dir.path() / "results.jsonl";
    std::ofstream(path) << line("vt", 0, "none", "", 0, 1, 1).dump() << "\n";
    const ResultsFile results(path);

    EXPECT_NO_THROW(results.check_compatible("m.gguf", 100, {{"blend", 0.3}}));
    try {
        results.check_compatible("other.gguf", 100, {{"blend", 0.3}});
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("m.gguf"), std::string::npos) << message;
        EXPECT_NE(message.find("other.gguf"), std::string::npos) << message;
        EXPECT_NE(message.find("--out"), std::string::npos) << message;
    }
    EXPECT_THROW(results.check_compatible("m.gguf", 101, {{"blend", 0.3}}), std::runtime_error);
    try {
        results.check_compatible("m.gguf", 100, {{"blend", 0.5}});
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("blend"), std::string::npos) << e.what();
    }
}

TEST(EvalResults, OtherFitRejected) {
    ScratchDir dir;
    const fs::path path = dir.path() / "results.jsonl";
    json fitted = line("vt", 0, "compactor", "per_layer", 0.3, 1, 0.7);
    fitted.update({{"quality", 0.95}, {"calibration", "fitted"}, {"calibration_alpha", 0.25},
                   {"calibration_beta", -3.5}});
    std::ofstream(path) << line("vt", 0, "none", "", 0, 1, 1).dump() << "\n" << fitted.dump() << "\n";
    const ResultsFile results(path);

    calibrate::Calibration same;
    same.fit.alpha = 0.25;
    same.fit.beta = -3.5;
    EXPECT_NO_THROW(results.check_fits_match({{"compactor:per_layer", same}}));
    // A fit for another method or budget does not concern the line.
    calibrate::Calibration other = same;
    other.fit.beta = 2.0;
    EXPECT_NO_THROW(results.check_fits_match({{"snapkv:per_layer", other}, {"compactor:per_head", other}}));

    try {
        results.check_fits_match({{"compactor:per_layer", other}});
        FAIL() << "a line made with beta -3.5 passed against a fit with beta 2";
    } catch (const std::runtime_error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("line 2"), std::string::npos) << message;
        EXPECT_NE(message.find("-3.5"), std::string::npos) << message;
        EXPECT_NE(message.find("beta 2"), std::string::npos) << message;
        EXPECT_NE(message.find("--calibration"), std::string::npos) << message;
    }
}

// Task a: two samples; task b: one. Averages weigh tasks, not samples.
std::vector<json> two_task_lines() {
    return {
        line("a", 0, "none", "", 0, 1.0, 1.0),
        line("a", 1, "none", "", 0, 0.0, 1.0),
        line("b", 0, "none", "", 0, 1.0, 1.0),
        line("a", 0, "compactor", "per_layer", 0.5, 1.0, 0.50),
        line("a", 1, "compactor", "per_layer", 0.5, 1.0, 0.50),
        line("b", 0, "compactor", "per_layer", 0.5, 0.0, 0.54),
        line("a", 0, "compactor", "per_head", 0.5, 0.0, 0.5),
        line("b", 0, "compactor", "per_head", 0.5, 1.0, 0.5),
    };
}

TEST(EvalSummary, AveragesOverTasks) {
    const std::vector<json> lines = two_task_lines();
    const ScoreTable table(pointers(lines), task_of);

    EXPECT_EQ(table.units(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(table.rows(), (std::vector<std::string>{"compactor:per_layer", "compactor:per_head"}));
    EXPECT_EQ(table.ratios(), (std::vector<std::string>{"0.5"}));
    EXPECT_EQ(table.n_samples("a"), 2);

    // Per sample the full cache averages 2/3; per task it is (0.5 + 1) / 2.
    const SummaryCell full = table.full_cache_average();
    EXPECT_DOUBLE_EQ(full.score, 0.75);
    EXPECT_TRUE(full.complete);

    const SummaryCell task_a = table.cell("a", "compactor:per_layer", "0.5");
    EXPECT_DOUBLE_EQ(task_a.score, 1.0);
    EXPECT_DOUBLE_EQ(task_a.kept_fraction, 0.5);
    const SummaryCell compactor = table.average("compactor:per_layer", "0.5");
    EXPECT_DOUBLE_EQ(compactor.score, 0.5);
    EXPECT_DOUBLE_EQ(compactor.kept_fraction, (0.5 + 0.54) / 2);
    EXPECT_EQ(compactor.n_samples, 3);
    EXPECT_TRUE(compactor.complete);
}

TEST(EvalSummary, MissingSampleMarksCell) {
    const std::vector<json> lines = two_task_lines();
    const ScoreTable table(pointers(lines), task_of);
    const SummaryCell per_head_a = table.cell("a", "compactor:per_head", "0.5");
    EXPECT_EQ(per_head_a.n_samples, 1);
    EXPECT_FALSE(per_head_a.complete);
    EXPECT_FALSE(table.average("compactor:per_head", "0.5").complete);
    EXPECT_TRUE(table.cell("x", "compactor:per_head", "0.5").empty());
    EXPECT_TRUE(table.average("snapkv:per_layer", "0.5").empty());
}

TEST(EvalSummary, RepeatedKeyCountsOnce) {
    std::vector<json> lines = two_task_lines();
    lines.push_back(line("b", 0, "none", "", 0, 0.0, 1.0));  // same key as an earlier line
    const ScoreTable table(pointers(lines), task_of);
    EXPECT_DOUBLE_EQ(table.full_cache_average().score, 0.75);
}

TEST(EvalSummary, ComputeTimeOncePerSampleAndRun) {
    std::vector<json> lines = two_task_lines();  // 3 samples in run-1, 2 s each
    json rerun = line("a", 1, "compactor", "per_head", 0.5, 1.0, 0.5);
    rerun["run_id"] = "run-2";
    rerun["sample_wall_s"] = 5.0;
    lines.push_back(rerun);
    EXPECT_DOUBLE_EQ(summed_compute_s(lines), 3 * 2.0 + 5.0);
}

TEST(EvalSummary, GroupsBySuiteLengthProtocol) {
    std::vector<json> lines = two_task_lines();
    json real = line("hotpotqa", 0, "none", "", 0, 0.4, 1.0, "real");
    lines.push_back(real);
    json aware = line("a", 0, "none", "", 0, 1.0, 1.0);
    aware["protocol"] = "aware";
    lines.push_back(aware);
    const std::vector<SummaryGroup> groups = group_lines(lines);
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0].suite, "ruler");
    EXPECT_EQ(groups[0].protocol, "agnostic");
    EXPECT_EQ(groups[0].lines.size(), 8u);
    EXPECT_EQ(groups[1].protocol, "aware");
    EXPECT_EQ(groups[2].suite, "real");
}

TEST(EvalReport, SummaryHasTables) {
    const std::vector<json> lines = two_task_lines();
    ReportContext context;
    context.command_line = "compactor eval --suite ruler";
    context.model_name = "m.gguf";
    context.machine = "Test CPU";
    context.n_threads = 2;
    const std::string text = render_summary(lines, context);

    for (const char* expected :
         {"compactor eval --suite ruler", "m.gguf", "Test CPU, 2 threads", "## RULER, 4096 tokens, query-agnostic",
          "Full cache (none): 75.0", "| compactor:per_layer | 50.0 (0.52) |", "| compactor:per_head | 50.0 (0.50)† |",
          "### Fraction of the full-cache score", "| compactor:per_layer | 0.667 |", "### Per task at ratio 0.5",
          "| a | 2 | 50.0 | 100.0 | 0.0† |", "| **average** |  | 75.0 | 50.0 | 50.0† |"}) {
        EXPECT_NE(text.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << text;
    }
}

TEST(EvalReport, QueryAwareLabelled) {
    std::vector<json> lines = two_task_lines();
    for (json& one : lines) one["protocol"] = "aware";
    const std::string text = render_summary(lines, {});
    EXPECT_NE(text.find("query-aware"), std::string::npos) << text;
    EXPECT_EQ(text.find("query-agnostic"), std::string::npos) << text;
}

TEST(EvalPlot, SeriesPerMethod) {
    std::vector<json> lines = two_task_lines();
    lines.push_back(line("a", 0, "compactor", "per_layer", 0.25, 1.0, 0.75));
    const std::vector<PlotSeries> series = plot_series(pointers(lines));
    ASSERT_EQ(series.size(), 3u);
    EXPECT_EQ(series[0].title, "none (full cache)");
    EXPECT_TRUE(series[0].points_only);
    ASSERT_EQ(series[0].points.size(), 1u);
    EXPECT_DOUBLE_EQ(series[0].points[0].score, 75.0);

    EXPECT_EQ(series[1].title, "compactor:per_layer");
    ASSERT_EQ(series[1].points.size(), 2u);
    // Sorted by kept fraction: ratio 0.5 first.
    EXPECT_EQ(series[1].points[0].ratio, "0.5");
    EXPECT_DOUBLE_EQ(series[1].points[0].kept_fraction, (0.5 + 0.54) / 2);
    EXPECT_EQ(series[1].points[1].ratio, "0.25");
    EXPECT_EQ(series[2].title, "compactor:per_head");
}

TEST(EvalPlot, GnuplotDrawsPngAndSvg) {
    ScratchDir dir;
    std::vector<json> lines = two_task_lines();
    lines.push_back(line("a", 0, "compactor", "per_layer", 0.25, 1.0, 0.75));
    try {
        draw_plot(dir.path(), "plot", "it's a test", plot_series(pointers(lines)));
    } catch (const PlotError& e) {
        GTEST_SKIP() << "gnuplot cannot draw here: " << e.what();
    }
    const std::string png = read_all(dir.path() / "plot.png");
    ASSERT_GE(png.size(), 8u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_NE(read_all(dir.path() / "plot.svg").find("<svg"), std::string::npos);
    const std::string data = read_all(dir.path() / "plot.dat");
    EXPECT_NE(data.find("# compactor:per_layer\n0.520000 50.0000 0.5\n0.750000 100.0000 0.25\n"), std::string::npos)
        << data;
    EXPECT_NE(read_all(dir.path() / "plot.gp").find("'it''s a test'"), std::string::npos);
}

TEST(EvalPlot, MissingGnuplotNamesPackage) {
    ScratchDir dir;
    const std::vector<json> lines = two_task_lines();
    const std::string saved_path = std::getenv("PATH") ? std::getenv("PATH") : "";
    setenv("PATH", dir.path().c_str(), 1);  // a folder without gnuplot
    try {
        draw_plot(dir.path(), "plot", "title", plot_series(pointers(lines)));
        ADD_FAILURE() << "no exception";
    } catch (const PlotError& e) {
        EXPECT_NE(std::string(e.what()).find("gnuplot-nox"), std::string::npos) << e.what();
    }
    setenv("PATH", saved_path.c_str(), 1);
    EXPECT_TRUE(fs::exists(dir.path() / "plot.gp"));
}

TEST(EvalKeptRows, HashFollowsKeptPositions) {
    KvCache cache(2, 2, 4);
    const std::vector<float> rows(3 * 2 * 4, 1.0f);
    for (int il = 0; il < 2; ++il) cache.append(il, rows.data(), rows.data(), 3, 0);
    cache.advance(3);

    KvCache same = cache;
    EXPECT_EQ(kept_rows_hash(same), kept_rows_hash(cache));

    KvCache dropped_first = cache;
    dropped_first.compact(1, 0, std::vector<int64_t>{1, 2});
    KvCache dropped_last = cache;
    dropped_last.compact(1, 0, std::vector<int64_t>{0, 1});
    KvCache other_head = cache;
    other_head.compact(1, 1, std::vector<int64_t>{1, 2});
    EXPECT_NE(kept_rows_hash(dropped_first), kept_rows_hash(cache));
    EXPECT_NE(kept_rows_hash(dropped_first), kept_rows_hash(dropped_last));
    EXPECT_NE(kept_rows_hash(dropped_first), kept_rows_hash(other_head));
}

}  // namespace
}  // namespace compactor::eval
