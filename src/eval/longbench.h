// Real-document tasks in LongBench's JSONL format: each prompt is split into
// the context (compressed before the question is seen) and the question with
// the task's template, and the context's middle is cut to fit the target length.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eval/sample.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::eval {

// The 13 English tasks of ../shared/data/longbench/tasks: narrativeqa,
// qasper, multifieldqa_en, hotpotqa, 2wikimqa, gov_report, qmsum,
// multi_news, trec, triviaqa, passage_count, passage_retrieval_en, lcc.
const std::vector<std::string>& longbench_task_names();

// LongBench's per-task prompt templates ({context} and {input}) and answer
// lengths, from config/dataset2prompt.json and config/dataset2maxlen.json.
struct LongBenchConfig {
    std::map<std::string, std::string> prompts;
    std::map<std::string, int64_t> max_new_tokens;

    // Throws std::runtime_error naming a missing or malformed file.
    static LongBenchConfig load(const std::string& config_dir);
};

// Every sample of a LongBench-format JSONL file. Each line is one object with
// dataset, answers, all_classes (the labels, required for trec) and either
// the whole formatted prompt or LongBench's own context and input fields. A
// prompt is split with the dataset's template: the config's first, then
// known variants such as MiniLongBench's, and the one that matched becomes
// the sample's template_name. Each sample's chat prompt is cut to at most
// target_tokens: the middle of the context goes, as LongBench truncates (see
// eval/longbench_truncate.h). max_new_tokens comes from the config. The
// id is "<dataset>/<target_tokens>/<line index from 0>". Throws
// std::runtime_error naming the file, line and field for bad input, and a
// dataset without a template or scoring rule.
std::vector<Sample> load_longbench_file(const std::string& path, const LongBenchConfig& config,
                                        int64_t target_tokens, const Tokenizer& tokenizer,
                                        const ChatTemplate& chat_template);

}  // namespace compactor::eval
