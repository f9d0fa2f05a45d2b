#include "eval/longbench_rules.h"

#include <array>
#include <stdexcept>

#include <fmt/format.h>

namespace compactor::eval {

namespace {

// LongBench v1's dataset2metric and its first-line rule (trec, triviaqa,
// samsum, lsht), for the tasks compactor can score.
// NOTE: no file of musique, samsum or repobench-p has been loaded yet. Their
// rules follow LongBench's code, and samsum's "Dialogue:" marker is unchecked.
constexpr std::array<LongBenchTaskRule, 16> kRules = {{
    {"narrativeqa", "qa_f1", false, ""},
    {"qasper", "qa_f1", false, ""},
    {"multifieldqa_en", "qa_f1", false, ""},
    {"hotpotqa", "qa_f1", false, ""},
    {"2wikimqa", "qa_f1", false, ""},
    {"musique", "qa_f1", false, ""},
    {"gov_report", "rouge_l", false, ""},
    {"qmsum", "rouge_l", false, ""},
    {"multi_news", "rouge_l", false, ""},
    {"trec", "classification", true, "Question:"},
    {"triviaqa", "qa_f1", true, "Passage:"},
    {"samsum", "rouge_l", true, "Dialogue:"},
    {"passage_count", "count", false, ""},
    {"passage_retrieval_en", "retrieval", false, ""},
    {"lcc", "edit_sim", false, ""},
    {"repobench-p", "edit_sim", false, ""},
}};

// LongBench's Chinese tasks: scored after jieba word segmentation (or with
// Chinese labels), which compactor does not implement.
constexpr std::array<std::string_view, 5> kChineseDatasets = {
    "multifieldqa_zh", "dureader", "vcsum", "lsht", "passage_retrieval_zh",
};

constexpr std::string_view kHotpotqaTemplate =
    "Answer the question based on the given passages. Only give me the answer and do not output any other "
    "words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. "
    "Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:";

// LongBench's narrativeqa template with its "asconcisely" typo fixed.
constexpr std::string_view kNarrativeqaTemplate =
    "You are given a story, which can be either a novel or a movie script, and a question. Answer the question "
    "as concisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: "
    "{context}\n\nNow, answer the question based on the story as concisely as you can, using a single phrase if "
    "possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:";

// LongBench's multi_news template followed by a newline.
constexpr std::string_view kMultiNewsTemplate =
    "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\nNow, "
    "write a one-page summary of all the news.\n\nSummary:\n";

}  // namespace

const LongBenchTaskRule& longbench_task_rule(std::string_view dataset) {
    for (const LongBenchTaskRule& rule : kRules) {
        if (rule.dataset == dataset) return rule;
    }
    for (std::string_view chinese : kChineseDatasets) {
        if (chinese == dataset) {
            throw std::invalid_argument(fmt::format(
                "LongBench dataset '{}' is scored on Chinese text (jieba word segmentation or Chinese labels), "
                "which compactor does not implement; use one of: {}",
                dataset, longbench_supported_datasets()));
        }
    }
    throw std::invalid_argument(fmt::format("unknown LongBench dataset '{}'; use one of: {}", dataset,
                                            longbench_supported_datasets()));
}

std::string longbench_supported_datasets() {
    std::string names;
    for (const LongBenchTaskRule& rule : kRules) {
        if (!names.empty()) names += ", ";
        names += rule.dataset;
    }
    return names;
}

std::vector<LongBenchTemplateVariant> longbench_template_variants(std::string_view dataset) {
    // MiniLongBench's qasper samples carry the multi-document QA wording.
    if (dataset == "qasper") return {{"minilongbench/qasper", std::string(kHotpotqaTemplate)}};
    if (dataset == "narrativeqa") return {{"minilongbench/narrativeqa", std::string(kNarrativeqaTemplate)}};
    if (dataset == "multi_news") return {{"minilongbench/multi_news", std::string(kMultiNewsTemplate)}};
    return {};
}

}  // namespace compactor::eval
