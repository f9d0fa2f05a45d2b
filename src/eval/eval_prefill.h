// The shared first step of evaluation and calibration runs: a sample's
// prompt tokens, one prefill that feeds every method's scorer, and the scores.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compactor/engine.h"
#include "compress/compressor.h"
#include "eval/eval_variant.h"
#include "eval/sample.h"
#include "model/token_nll.h"

namespace compactor::eval {

struct SampleTokens {
    std::vector<int32_t> context;        // prefilled once, then compressed per variant
    std::vector<int32_t> answer_prompt;  // run from every compressed copy
    int64_t n_template = 0;              // context tokens before the document (BOS, system turn, user header)
    int64_t n_protected_question = 0;    // query-aware: question tokens ending the context
};

// Query-agnostic: the context ends before the question. Query-aware: the
// question's user text joins the context and only the turn end and the
// answer prefix follow.
SampleTokens encode_tokens(const Engine& engine, const Sample& sample, Protocol protocol);

// Throws std::invalid_argument naming the sample when its prompt plus
// max_new_tokens exceeds n_ctx.
void check_fits(const Sample& sample, const SampleTokens& tokens, int64_t n_ctx);

struct MethodScores {
    ScoreSet scores;
    double score_s = 0;
    double second_pass_s = 0;
};

struct Prefill {
    KvCache cache;  // the full cache of the context
    double prefill_s = 0;
    std::map<std::string, MethodScores> methods;  // methods that compress at some ratio > 0
};

// Methods whose scores some variant needs: any but "none" at a ratio above 0.
std::set<std::string> methods_to_score(const std::vector<Variant>& variants);

// One forward pass over the context feeds every scorer; each is then
// finalized (after its second pass when it needs one) and freed. When
// `nll` is set, the pass also accumulates the context's next-token NLL.
Prefill prefill_and_score(const Engine& engine, const CompressionOptions& base, int64_t prefill_chunk,
                          const SampleTokens& tokens, const std::set<std::string>& methods, NextTokenNll* nll);

}  // namespace compactor::eval
