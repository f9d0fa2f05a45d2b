// Online calibration on any full cache and its scores, for callers that
// prefill without a DocumentSession (the evaluation runner).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compactor/online_calibration.h"
#include "compress/compressor.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {

// The search DocumentSession::calibrate_online runs: `full_cache` contains
// `prompt_tokens` (the first n_template of them the prompt template),
// `scores` are options.method's scores of it. Throws std::invalid_argument
// for tau outside (0, 1], invalid options or a document too short for the probes.
OnlineCalibration calibrate_online(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                   const KvCache& full_cache, const ScoreSet& scores,
                                   std::span<const int32_t> prompt_tokens, int64_t n_template,
                                   const CompressionOptions& options, double tau,
                                   const OnlineCalibrationOptions& probe_options);

// The same search for several budgets at once, results in the order of
// `taus`: the probes' full-cache pass runs once and each kept fraction is
// measured once, whichever budgets' searches reach it.
std::vector<OnlineCalibration> calibrate_online(const Model& model, const Tokenizer& tokenizer,
                                                const ChatTemplate& chat_template, const KvCache& full_cache,
                                                const ScoreSet& scores, std::span<const int32_t> prompt_tokens,
                                                int64_t n_template,
                                                const CompressionOptions& options, std::span<const double> taus,
                                                const OnlineCalibrationOptions& probe_options);

}  // namespace compactor
