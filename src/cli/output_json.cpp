// Machine-readable report of `compactor run`: one JSON object on stdout.
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/run_result.h"
#include "engine/json_text.h"

namespace compactor::cli {

namespace {

using nlohmann::json;

json answer_json(const Answer& answer) {
    return {
        {"text", answer.text},
        {"n_question_tokens", answer.n_question_tokens},
        {"n_generated_tokens", answer.n_generated_tokens},
        {"prefill_s", answer.prefill_s},
        {"decode_s", answer.decode_s},
        {"stop_reason", to_string(answer.stop_reason)},
    };
}

json compression_json(const CompressionOptions& c) {
    return {
        {"method", c.method},
        {"ratio", c.ratio},
        {"blend", c.blend},
        {"sketch_dim", c.sketch_dim},
        {"attn_chunk", c.attn_chunk},
        {"sink", c.sink},
        {"recent", c.recent},
        {"budget", c.budget == BudgetMode::per_head ? "per_head" : "per_layer"},
        {"head_floor", c.head_floor},
        {"leverage_window", c.leverage_window},
        {"value_weighting", c.value_weighting},
        {"seed", c.seed},
    };
}

json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json quality_json(const QualityReport& q) {
    json out = {
        {"tau", q.tau},
        {"calibration", to_string(q.kind)},
        {"kept_fraction", q.kept_fraction},
        {"ratio", q.ratio},
        {"seconds", q.seconds},
    };
    if (q.kind == CalibrationKind::fitted) {
        out.update({{"calibration_file", q.calibration_path}, {"alpha", q.alpha}, {"beta", q.beta}, {"b", q.b}});
        return out;
    }
    const OnlineCalibration& online = *q.online;
    json candidates = json::array();
    for (const CalibrationCandidate& c : online.candidates) {
        candidates.push_back({{"kept_fraction", c.kept_fraction},
                              {"kept_measured", c.kept_measured},
                              {"probe_nll", c.probe_nll},
                              {"quality_ratio", c.quality_ratio},
                              {"seconds", c.seconds}});
    }
    out.update({{"probe_nll_full", online.probe_nll_full},
                {"n_probes", online.n_probes},
                {"n_probe_tokens", online.n_probe_tokens},
                {"candidates", candidates}});
    return out;
}

}  // namespace

void print_json(const RunResult& r) {
    json answers = json::array();
    for (const AnswerPair& pair : r.answers) {
        answers.push_back({
            {"question", pair.question},
            {"answer_full", pair.full.text},
            {"answer_compressed", pair.compressed.text},
            {"full", answer_json(pair.full)},
            {"compressed", answer_json(pair.compressed)},
        });
    }

    const json report = {
        {"version", kVersion},
        {"model", r.model_path},
        {"model_name", r.model_name},
        {"n_threads", r.n_threads},
        {"weight_format", to_string(r.weight_format)},
        {"weight_bytes", r.weight_bytes},
        {"context", r.context_path},
        {"n_context_tokens", r.n_context_tokens},
        {"method", r.compression.method},
        {"ratio", r.compression.ratio},
        {"kept_fraction", r.kept_fraction()},
        {"context_nll", number_or_null(r.context_nll)},
        {"n_nll_tokens", r.n_nll_tokens},
        {"quality", r.quality ? quality_json(*r.quality) : json(nullptr)},
        {"compression", compression_json(r.compression)},
        {"compression_skipped", r.report.skipped},
        {"kv_bytes_full", r.kv_bytes_full},
        {"kv_bytes_compressed", r.kv_bytes_compressed},
        {"kv_rows_full", r.kv_rows_full},
        {"kv_rows_compressed", r.kv_rows_compressed},
        {"timings",
         {
             {"prefill_s", r.prefill_s},
             {"score_s", r.report.score_s},
             {"second_pass_s", r.report.second_pass_s},
             {"compact_s", r.report.compact_s},
             {"decode_s", r.decode_s()},
         }},
        {"prefill_tokens_per_s", r.prefill_tokens_per_s()},
        {"decode_tokens_per_s", r.decode_tokens_per_s()},
        {"n_generated_tokens", r.n_generated_tokens()},
        {"answers", answers},
    };
    // An answer cut at --max-tokens can end inside a UTF-8 character, and a
    // question can contain invalid bytes. Both are written as U+FFFD.
    std::cout << json_text(report, 2) << std::endl;
}

}  // namespace compactor::cli
