// One builder per family of RULER-style tasks. Each draws everything random
// first from the sample's generator, then sizes the haystack with the sizer,
// and returns the finished sample.
#pragma once

#include "eval/ruler_data.h"
#include "eval/ruler_sizing.h"
#include "eval/sample.h"

namespace compactor::eval {

// Answer reserve (max_new_tokens) per task family, in tokens.
constexpr int64_t kNeedleAnswerTokens = 128;
constexpr int64_t kVariableAnswerTokens = 30;
constexpr int64_t kCommonWordsAnswerTokens = 120;
constexpr int64_t kFrequentWordsAnswerTokens = 50;
constexpr int64_t kQaAnswerTokens = 32;

// niah_single_1/2/3, niah_multikey_1/2/3, niah_multivalue, niah_multiquery.
bool is_needle_task(const std::string& task);
Sample build_needle_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer);

// vt: one chain of variable assignments among noise lines.
Sample build_variable_tracking_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer);

// cwe: the 10 most common words of a numbered list.
Sample build_common_words_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer);

// fwe: the three most frequent coded words of a Zipf-distributed text.
Sample build_frequent_words_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer);

// qa_1 (SQuAD) and qa_2 (HotpotQA): the answer's paragraphs among distractors.
Sample build_squad_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer);
Sample build_hotpot_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer);

}  // namespace compactor::eval
