// Answer metrics as RULER and LongBench score them. Every score is in [0, 1].
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eval/sample.h"

namespace compactor::eval {

// string_match_all (RULER: share of references found), string_match_any
// (RULER QA: 1 when any reference is found), qa_f1, rouge_l, edit_sim,
// classification, count, retrieval (LongBench).
const std::vector<std::string>& metric_names();

// The score of `prediction` for `sample` under sample.metric, after the
// sample's post-processing (first_line_only). LongBench metrics take the
// maximum over the references. Throws std::invalid_argument for an unknown
// metric.
double score_prediction(const Sample& sample, std::string_view prediction);

}  // namespace compactor::eval
