// Splitting a LongBench prompt into the context (compressed before the
// question is seen) and the question, with the task's template.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eval/longbench_rules.h"

namespace compactor::eval {

// A template "{prefix}{context}{separator}{input}{suffix}", or
// "{prefix}{context}{suffix}" for tasks without an input (summaries, passage
// count, code completion).
struct LongBenchTemplate {
    std::string name;       // "longbench/<dataset>" or a variant's name
    std::string prefix;
    std::string separator;  // empty when there is no {input}
    std::string suffix;
    bool has_input = false;

    // Throws std::invalid_argument when {context} is missing or repeated, or
    // {input} is repeated or comes before {context}.
    static LongBenchTemplate parse(std::string name, std::string_view text);
};

struct PromptParts {
    std::string context;   // prefix + the task's context
    std::string question;  // separator + input + suffix (the suffix alone without an input)
    std::string template_name;
};

// Recover the parts of `prompt` with the first of `templates` it matches.
// The prompt must start with the prefix and end with the suffix. The boundary
// is the last separator followed by rule.input_marker (by anything when the
// marker is empty) that leaves a non-empty input, and context + question ==
// prompt. Throws std::invalid_argument saying what did not match the first
// template.
PromptParts split_longbench_prompt(std::string_view prompt, const LongBenchTaskRule& rule,
                                   const std::vector<LongBenchTemplate>& templates);

// The parts of a sample given as separate context and input fields (the
// layout of LongBench's own data files).
PromptParts join_longbench_fields(std::string_view context, std::string_view input, const LongBenchTemplate& format);

}  // namespace compactor::eval
