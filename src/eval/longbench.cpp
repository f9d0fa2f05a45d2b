#include "eval/longbench.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "eval/longbench_rules.h"
#include "eval/longbench_split.h"
#include "eval/longbench_truncate.h"

namespace compactor::eval {

namespace {

using nlohmann::json;

json read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error(fmt::format("cannot open the LongBench config file '{}'; the config folder needs "
                                             "dataset2prompt.json and dataset2maxlen.json",
                                             path));
    }
    try {
        return json::parse(in);
    } catch (const json::parse_error& error) {
        throw std::runtime_error(fmt::format("the LongBench config file '{}' is not valid JSON: {}", path,
                                             error.what()));
    }
}

// The reader of one JSONL file: every error names the file and the line.
class LineReader {
public:
    LineReader(const std::string& path, int64_t line_number) : path_(path), line_number_(line_number) {}

    [[noreturn]] void fail(const std::string& message) const {
        throw std::runtime_error(fmt::format("{}:{}: {}", path_, line_number_, message));
    }

    const json& field(const json& object, const char* name) const {
        auto found = object.find(name);
        if (found == object.end()) fail(fmt::format("missing field \"{}\"", name));
        return *found;
    }

    std::string string_field(const json& object, const char* name) const {
        const json& value = field(object, name);
        if (!value.is_string()) fail(fmt::format("field \"{}\" must be a string, not {}", name, value.type_name()));
        return value.get<std::string>();
    }

    // A list of strings; null counts as empty when `nullable`.
    std::vector<std::string> strings_field(const json& object, const char* name, bool nullable) const {
        const json& value = field(object, name);
        if (nullable && value.is_null()) return {};
        if (!value.is_array()) {
            fail(fmt::format("field \"{}\" must be a list of strings, not {}", name, value.type_name()));
        }
        std::vector<std::string> strings;
        for (const json& element : value) {
            if (!element.is_string()) {
                fail(fmt::format("field \"{}\" must hold only strings, not {}", name, element.type_name()));
            }
            strings.push_back(element.get<std::string>());
        }
        return strings;
    }

private:
    const std::string& path_;
    int64_t line_number_;
};

struct DatasetFormat {
    const LongBenchTaskRule* rule = nullptr;
    std::vector<LongBenchTemplate> templates;  // the config's first, then known variants
    int64_t max_new_tokens = 0;
};

DatasetFormat dataset_format(const std::string& dataset, const LongBenchConfig& config, const LineReader& line) {
    DatasetFormat format;
    try {
        format.rule = &longbench_task_rule(dataset);
    } catch (const std::invalid_argument& error) {
        line.fail(error.what());
    }

    auto prompt = config.prompts.find(dataset);
    auto max_len = config.max_new_tokens.find(dataset);
    if (prompt == config.prompts.end() || max_len == config.max_new_tokens.end()) {
        line.fail(fmt::format("dataset '{}' has no entry in the config's dataset2prompt.json or dataset2maxlen.json",
                              dataset));
    }
    format.max_new_tokens = max_len->second;
    format.templates.push_back(LongBenchTemplate::parse("longbench/" + dataset, prompt->second));
    for (const LongBenchTemplateVariant& variant : longbench_template_variants(dataset)) {
        format.templates.push_back(LongBenchTemplate::parse(variant.name, variant.text));
    }
    return format;
}

Sample parse_sample(const std::string& text, const LineReader& line, const LongBenchConfig& config,
                    int64_t index, int64_t target_tokens) {
    json object;
    try {
        object = json::parse(text);
    } catch (const json::parse_error& error) {
        line.fail(fmt::format("invalid JSON ({}); each line must be one JSON object", error.what()));
    }
    if (!object.is_object()) line.fail(fmt::format("expected a JSON object, not {}", object.type_name()));

    Sample sample;
    sample.task = line.string_field(object, "dataset");
    const DatasetFormat format = dataset_format(sample.task, config, line);

    // A sample comes either as the whole formatted prompt (split here) or as
    // LongBench's own context and input fields.
    PromptParts parts;
    try {
        if (object.contains("prompt")) {
            parts = split_longbench_prompt(line.string_field(object, "prompt"), *format.rule, format.templates);
        } else if (object.contains("context") && object.contains("input")) {
            parts = join_longbench_fields(line.string_field(object, "context"), line.string_field(object, "input"),
                                          format.templates.front());
        } else {
            line.fail("missing field \"prompt\" (or the pair \"context\" and \"input\")");
        }
    } catch (const std::invalid_argument& error) {
        line.fail(fmt::format("dataset '{}': {}", sample.task, error.what()));
    }

    sample.references = line.strings_field(object, "answers", /*nullable=*/false);
    if (sample.references.empty()) line.fail("field \"answers\" is empty; a sample needs at least one reference");
    if (object.contains("all_classes")) sample.all_classes = line.strings_field(object, "all_classes", true);
    if (format.rule->metric == "classification" && sample.all_classes.empty()) {
        line.fail(fmt::format("dataset '{}' is scored by classification, so \"all_classes\" must list the labels",
                              sample.task));
    }

    sample.id = fmt::format("{}/{}/{}", sample.task, target_tokens, index);
    sample.suite = "real";
    sample.seed = 0;
    sample.index = index;
    sample.target_tokens = target_tokens;
    sample.context = std::move(parts.context);
    sample.question = std::move(parts.question);
    sample.metric = std::string(format.rule->metric);
    sample.first_line_only = format.rule->first_line_only;
    sample.template_name = std::move(parts.template_name);
    sample.max_new_tokens = format.max_new_tokens;
    return sample;
}

}  // namespace

const std::vector<std::string>& longbench_task_names() {
    static const std::vector<std::string> names = {
        "narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "gov_report", "qmsum",
        "multi_news", "trec", "triviaqa", "passage_count", "passage_retrieval_en", "lcc",
    };
    return names;
}

LongBenchConfig LongBenchConfig::load(const std::string& config_dir) {
    const std::string prompt_path = (std::filesystem::path(config_dir) / "dataset2prompt.json").string();
    const std::string max_len_path = (std::filesystem::path(config_dir) / "dataset2maxlen.json").string();
    const json prompts = read_json_file(prompt_path);
    const json max_lens = read_json_file(max_len_path);
    if (!prompts.is_object()) {
        throw std::runtime_error(fmt::format("'{}' must be a JSON object of dataset names to templates", prompt_path));
    }
    if (!max_lens.is_object()) {
        throw std::runtime_error(
            fmt::format("'{}' must be a JSON object of dataset names to token counts", max_len_path));
    }

    LongBenchConfig config;
    for (const auto& [dataset, value] : prompts.items()) {
        if (!value.is_string()) {
            throw std::runtime_error(fmt::format("'{}': the template of '{}' must be a string", prompt_path, dataset));
        }
        try {
            LongBenchTemplate::parse("longbench/" + dataset, value.get<std::string>());
        } catch (const std::invalid_argument& error) {
            throw std::runtime_error(fmt::format("'{}': {}", prompt_path, error.what()));
        }
        config.prompts[dataset] = value.get<std::string>();
    }
    for (const auto& [dataset, value] : max_lens.items()) {
        if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
            throw std::runtime_error(fmt::format("'{}': the answer length of '{}' must be a positive integer, not {}",
                                                 max_len_path, dataset, value.dump()));
        }
        config.max_new_tokens[dataset] = value.get<int64_t>();
    }
    spdlog::info("LongBench config: {} templates and {} answer lengths from {}", config.prompts.size(),
                 config.max_new_tokens.size(), config_dir);
    return config;
}

std::vector<Sample> load_longbench_file(const std::string& path, const LongBenchConfig& config,
                                        int64_t target_tokens, const Tokenizer& tokenizer,
                                        const ChatTemplate& chat_template) {
    const auto start = std::chrono::steady_clock::now();
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot open the LongBench file '{}'; check the path", path));

    std::vector<Sample> samples;
    int64_t n_cut = 0;
    std::string text;
    for (int64_t line_number = 1; std::getline(in, text); ++line_number) {
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text.find_first_not_of(" \t") == std::string::npos) continue;

        const LineReader line(path, line_number);
        Sample sample = parse_sample(text, line, config, line_number - 1, target_tokens);
        try {
            const TruncationResult cut = truncate_middle(sample, target_tokens, tokenizer, chat_template);
            if (cut.n_tokens_after < cut.n_tokens_before) {
                ++n_cut;
                spdlog::debug("{}: cut from {} to {} prompt tokens", sample.id, cut.n_tokens_before,
                              cut.n_tokens_after);
            }
        } catch (const std::invalid_argument& error) {
            line.fail(error.what());
        }
        samples.push_back(std::move(sample));
    }
    if (in.bad()) throw std::runtime_error(fmt::format("reading the LongBench file '{}' failed", path));

    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (samples.empty()) spdlog::warn("the LongBench file '{}' has no samples", path);
    spdlog::info("loaded {} LongBench samples from {} at {} tokens ({} cut in the middle) in {:.0f} ms",
                 samples.size(), path, target_tokens, n_cut, elapsed_ms);
    return samples;
}

}  // namespace compactor::eval
