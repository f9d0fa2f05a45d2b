#include "eval/eval_samples.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>
#include <memory>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "eval/longbench.h"
#include "eval/ruler.h"

namespace compactor::eval {

namespace {

namespace fs = std::filesystem;

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

bool selected(const SampleSelection& selection, const std::string& task) {
    return selection.tasks.empty() || contains(selection.tasks, task);
}

void check_selection(const SampleSelection& selection, int64_t n_ctx) {
    if (selection.suite != "ruler" && selection.suite != "real" && selection.suite != "all") {
        throw std::invalid_argument(fmt::format("suite '{}' is unknown; use ruler, real or all", selection.suite));
    }
    if (selection.lengths.empty()) throw std::invalid_argument("no target length given; pass --lengths such as 4096");
    for (int64_t length : selection.lengths) {
        if (length <= 0) {
            throw std::invalid_argument(fmt::format(
                "target length {} is invalid; pass --lengths with positive token counts such as 4096", length));
        }
        if (length > n_ctx) {
            throw std::invalid_argument(fmt::format(
                "target length {} exceeds the model's context of {} tokens; pass --lengths up to {}", length, n_ctx,
                n_ctx));
        }
    }
    if (selection.n_samples < 1) {
        throw std::invalid_argument(
            fmt::format("sample count {} is invalid; use at least 1 sample per task (--samples)", selection.n_samples));
    }
    if (!selection.longbench_files.empty() && selection.suite == "ruler") {
        throw std::invalid_argument("--longbench files belong to the real-document suite; add --suite real or all");
    }
}

// The folder with LongBench's config/ and tasks/, or an error naming --data-dir.
fs::path longbench_dir(const SampleSelection& selection) {
    const fs::path dir = fs::path(selection.data_dir) / "longbench";
    std::error_code error;
    if (selection.data_dir.empty() || !fs::is_directory(dir / "config", error)) {
        throw std::invalid_argument(fmt::format(
            "the real-document suite needs the evaluation data folder with longbench/config and longbench/tasks, "
            "but {}; pass --data-dir DIR",
            selection.data_dir.empty() ? std::string("none was found") : dir.string() + "/config does not exist"));
    }
    return dir;
}

// Every --tasks name must exist and belong to a suite that runs.
void check_task_names(const SampleSelection& selection, const std::set<std::string>& extra_real_tasks) {
    const bool want_ruler = selection.suite != "real";
    const bool want_real = selection.suite != "ruler";
    for (const std::string& task : selection.tasks) {
        if (contains(ruler_task_names(), task)) {
            if (!want_ruler) {
                throw std::invalid_argument(
                    fmt::format("task '{}' is a RULER task; add --suite ruler or all to run it", task));
            }
        } else if (contains(longbench_task_names(), task) || extra_real_tasks.count(task)) {
            if (!want_real) {
                throw std::invalid_argument(
                    fmt::format("task '{}' is a real-document task; add --suite real or all to run it", task));
            }
        } else {
            throw std::invalid_argument(fmt::format("task '{}' is unknown; use RULER tasks ({}) or LongBench tasks ({})",
                                                    task, fmt::join(ruler_task_names(), ", "),
                                                    fmt::join(longbench_task_names(), ", ")));
        }
    }
}

void plan_ruler(const SampleSelection& selection, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                std::vector<PlannedSample>& planned) {
    auto generator = std::make_shared<RulerGenerator>(selection.data_dir, tokenizer, chat_template);
    const uint64_t seed = selection.seed;
    for (const std::string& task : ruler_task_names()) {
        if (!selected(selection, task)) continue;
        for (int64_t length : selection.lengths) {
            // Generating sample 0 now turns a missing data file or a length
            // too short for the task into an error before any prefill.
            std::shared_ptr<const Sample> first;
            try {
                first = std::make_shared<const Sample>(generator->generate(task, 0, length, seed));
            } catch (const std::invalid_argument& e) {
                throw std::invalid_argument(fmt::format("RULER task {} at {} tokens: {}", task, length, e.what()));
            }

            for (int64_t index = 0; index < selection.n_samples; ++index) {
                PlannedSample sample{ruler_sample_id(task, length, index), "ruler", task, length, {}};
                if (index == 0) {
                    sample.load = [first] { return *first; };
                } else {
                    sample.load = [generator, task, index, length, seed] {
                        return generator->generate(task, index, length, seed);
                    };
                }
                planned.push_back(std::move(sample));
            }
        }
    }
}

void add_loaded(std::vector<Sample> samples, int64_t n_samples, const SampleSelection& selection,
                std::vector<PlannedSample>& planned) {
    if (static_cast<int64_t>(samples.size()) > n_samples) samples.resize(static_cast<size_t>(n_samples));
    for (Sample& sample : samples) {
        if (!selected(selection, sample.task)) continue;
        auto shared = std::make_shared<const Sample>(std::move(sample));
        planned.push_back({shared->id, "real", shared->task, shared->target_tokens, [shared] { return *shared; }});
    }
}

void plan_real(const SampleSelection& selection, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
               std::vector<PlannedSample>& planned) {
    const fs::path dir = longbench_dir(selection);
    const LongBenchConfig config = LongBenchConfig::load((dir / "config").string());

    // Files given with --longbench come first into the task check, because
    // their dataset names are known only once they are read.
    std::vector<PlannedSample> extra;
    std::set<std::string> extra_tasks;
    for (const std::string& path : selection.longbench_files) {
        for (int64_t length : selection.lengths) {
            std::vector<Sample> samples = load_longbench_file(path, config, length, tokenizer, chat_template);
            for (const Sample& sample : samples) extra_tasks.insert(sample.task);
            add_loaded(std::move(samples), selection.n_samples, selection, extra);
        }
    }
    check_task_names(selection, extra_tasks);

    for (const std::string& task : longbench_task_names()) {
        if (!selected(selection, task)) continue;
        const fs::path path = dir / "tasks" / (task + ".jsonl");
        for (int64_t length : selection.lengths) {
            add_loaded(load_longbench_file(path.string(), config, length, tokenizer, chat_template),
                       selection.n_samples, selection, planned);
        }
    }
    for (PlannedSample& sample : extra) planned.push_back(std::move(sample));
}

void check_unique_ids(const std::vector<PlannedSample>& planned) {
    std::map<std::string, const PlannedSample*> seen;
    for (const PlannedSample& sample : planned) {
        const auto [it, inserted] = seen.emplace(sample.id, &sample);
        if (!inserted) {
            throw std::invalid_argument(fmt::format(
                "two samples have the id '{}' (tasks {} and {}); each --longbench file must use dataset names "
                "that no other task file uses",
                sample.id, it->second->task, sample.task));
        }
    }
}

// Reorder so that the k-th sample of every (suite, task, length) comes before
// any (k + 1)-th: a run stopped early then covers every task evenly.
void interleave_tasks(std::vector<PlannedSample>& planned) {
    std::map<std::tuple<std::string, std::string, int64_t>, int64_t> seen;
    std::vector<std::pair<int64_t, size_t>> order;  // (rank within its group, planned index)
    for (size_t i = 0; i < planned.size(); ++i) {
        const PlannedSample& sample = planned[i];
        order.emplace_back(seen[{sample.suite, sample.task, sample.target_tokens}]++, i);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });

    std::vector<PlannedSample> reordered;
    reordered.reserve(planned.size());
    for (const auto& [rank, i] : order) reordered.push_back(std::move(planned[i]));
    planned = std::move(reordered);
}

}  // namespace

std::string ruler_sample_id(const std::string& task, int64_t target_tokens, int64_t index) {
    return fmt::format("{}/{}/{}", task, target_tokens, index);
}

std::vector<PlannedSample> plan_samples(const SampleSelection& selection, const Tokenizer& tokenizer,
                                        const ChatTemplate& chat_template, int64_t n_ctx) {
    check_selection(selection, n_ctx);
    std::vector<PlannedSample> planned;
    if (selection.suite == "ruler") check_task_names(selection, {});
    if (selection.suite != "real") plan_ruler(selection, tokenizer, chat_template, planned);
    if (selection.suite != "ruler") plan_real(selection, tokenizer, chat_template, planned);

    if (planned.empty()) {
        throw std::invalid_argument(fmt::format("no samples match --suite {} and --tasks {}; check the task names",
                                                selection.suite, fmt::join(selection.tasks, ",")));
    }
    check_unique_ids(planned);
    interleave_tasks(planned);
    spdlog::info("eval: planned {} samples ({} suite, lengths {})", planned.size(), selection.suite,
                 fmt::join(selection.lengths, ","));
    return planned;
}

}  // namespace compactor::eval
