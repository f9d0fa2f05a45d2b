// Per-dataset rules of LongBench: the metric, the post-processing, how to find
// the boundary between context and input, and the known variants of the
// prompt templates.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace compactor::eval {

struct LongBenchTaskRule {
    std::string_view dataset;
    std::string_view metric;          // one of metric_names() (eval/metrics.h)
    bool first_line_only = false;     // LongBench scores only the first line (few-shot tasks)
    // Text that the {input} part starts with, for few-shot tasks whose
    // separator between {context} and {input} also separates the examples
    // inside the context; empty when the last separator marks the boundary.
    std::string_view input_marker;
};

// The rule of `dataset`. Throws std::invalid_argument for a dataset without
// one, saying why (Chinese tasks need jieba word segmentation) and listing
// the supported names.
const LongBenchTaskRule& longbench_task_rule(std::string_view dataset);

// Every dataset with a rule, comma-separated, for messages.
std::string longbench_supported_datasets();

// A published rewording of a template: the prompts of MiniLongBench (a
// subset of LongBench v1) differ from LongBench's config/dataset2prompt.json
// in three tasks.
struct LongBenchTemplateVariant {
    std::string name;   // "minilongbench/<dataset>"
    std::string text;   // the template with {context} and {input}
};

// The known variants of `dataset`'s template, tried after the config's own.
std::vector<LongBenchTemplateVariant> longbench_template_variants(std::string_view dataset);

}  // namespace compactor::eval
