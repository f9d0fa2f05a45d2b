// One evaluation sample: a context compressed before its question is seen,
// the question, the references and how to score a prediction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace compactor::eval {

// The chat prompt of a sample, shown in ChatML (Llama 3 turns work the same
// way, see include/compactor/engine.h):
//   [system turn] <|im_start|>user\n{context}{question}<|im_end|>\n<|im_start|>assistant\n{answer_prefix}
// The query-agnostic protocol prefills and compresses everything up to and
// including {context}; {question} and the rest follow from the compressed cache.
struct Sample {
    std::string id;              // unique within a run: "{task}/{target_tokens}/{index}"
    std::string suite;           // "ruler" or "real"
    std::string task;            // "niah_single_1", ..., "hotpotqa", ...
    uint64_t seed = 0;           // generator seed (ruler); 0 for real documents
    int64_t index = 0;           // sample number within its task
    int64_t target_tokens = 0;   // length the sample was sized to, in model tokens
    std::string context;         // instructions and document: the compressed part of the user turn
    std::string question;        // the rest of the user turn: the query and closing instructions
    std::string answer_prefix;   // text the assistant turn starts with; the model continues it
    std::vector<std::string> references;   // reference answers
    std::vector<std::string> all_classes;  // classification labels (trec), else empty
    std::string metric;          // one of metric_names() (eval/metrics.h)
    bool first_line_only = false;  // score only the prediction's first line (LongBench's few-shot tasks)
    std::string template_name;   // the prompt template used, e.g. "ruler/niah_single_1", "longbench/hotpotqa"
    int64_t max_new_tokens = 64; // answer tokens generated at most
};

nlohmann::json to_json(const Sample& sample);
// Throws std::invalid_argument naming a missing or mistyped field.
Sample sample_from_json(const nlohmann::json& json);

}  // namespace compactor::eval
