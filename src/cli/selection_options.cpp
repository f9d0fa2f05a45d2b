#include "cli/selection_options.h"

#include <charconv>

#include <fmt/format.h>

#include "cli/cli_error.h"
#include "eval/eval_list.h"

namespace compactor::cli {

void add_selection_options(CLI::App& command, SelectionArgs& args, const std::string& samples_help) {
    command.add_option("--suite", args.suite, "Tasks: ruler (synthetic), real (LongBench documents) or all")
        ->capture_default_str();
    command.add_option("--lengths", args.lengths, "Target sample lengths in model tokens, comma-separated")
        ->capture_default_str();
    command.add_option("--samples", args.samples, samples_help)->capture_default_str();
    command.add_option("--tasks", args.tasks, "Comma-separated task names (default: every task of the suite)");
    command.add_option("--data-dir", args.data_dir,
                       "Evaluation data folder with haystack/, qa/, ruler/ and longbench/ (default: ../shared/data "
                       "beside the source tree, when it exists)");
    command.add_option("--seed", args.seed, "Seed of the RULER samples, the Gaussian sketch and the random method")
        ->capture_default_str();
}

eval::SampleSelection parse_selection(const SelectionArgs& args) {
    if (args.samples < 1) {
        throw CliError(fmt::format("--samples {} is invalid; use at least 1 sample per task", args.samples));
    }
    if (args.suite != "ruler" && args.suite != "real" && args.suite != "all") {
        throw CliError(fmt::format("--suite '{}' is invalid; use ruler, real or all", args.suite));
    }

    eval::SampleSelection selection;
    selection.suite = args.suite;
    selection.lengths = parse_lengths(args.lengths);
    selection.n_samples = args.samples;
    selection.tasks = parse_tasks(args.tasks);
    selection.data_dir = args.data_dir;
    selection.seed = args.seed;
    return selection;
}

std::vector<int64_t> parse_lengths(const std::string& list) {
    std::vector<int64_t> lengths;
    for (const std::string& item : eval::split_comma_list(list)) {
        int64_t length = 0;
        const char* end = item.data() + item.size();
        const auto [ptr, error] = std::from_chars(item.data(), end, length);
        if (item.empty() || error != std::errc() || ptr != end || length <= 0) {
            throw CliError(fmt::format("--lengths '{}' has the invalid length '{}'; write positive token counts "
                                       "such as 4096 or 2048,4096",
                                       list, item));
        }
        lengths.push_back(length);
    }
    return lengths;
}

std::vector<std::string> parse_tasks(const std::string& list) {
    if (list.empty()) return {};
    std::vector<std::string> tasks = eval::split_comma_list(list);
    for (const std::string& task : tasks) {
        if (task.empty()) {
            throw CliError(fmt::format("--tasks '{}' has an empty item; separate task names with single commas", list));
        }
    }
    return tasks;
}

}  // namespace compactor::cli
