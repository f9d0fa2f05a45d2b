// Human-readable report of `compactor run`: settings, KV sizes, timings, and
// each question's full-cache and compressed-cache answers side by side.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "cli/run_result.h"
#include "cli/text_columns.h"

namespace compactor::cli {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

double per_second(int64_t count, double seconds) { return seconds > 0 ? static_cast<double>(count) / seconds : 0.0; }

// Say when the cache kept clearly more than the requested 1 − ratio, so a
// user does not read the method line as what happened.
void print_compression_notes(const RunResult& r) {
    const CompressionOptions& c = r.compression;
    if (r.report.skipped) {
        fmt::print("note      the {} context tokens are all protected (sink {} + recent {}), so the cache was "
                   "left uncompressed\n",
                   r.n_context_tokens, c.sink, c.recent);
        return;
    }
    const double requested_kept = 1.0 - c.ratio;
    if (c.method != "none" && r.kept_fraction() > requested_kept + 0.01) {
        fmt::print("note      kept {:.4f} instead of {:.4f}: the {} protected tokens (sink + recent) are always kept\n",
                   r.kept_fraction(), requested_kept, c.sink + c.recent);
    }
}

// Prints how --quality chose the ratio and the context NLL it was chosen from.
void print_quality(const RunResult& r) {
    if (!r.quality) return;
    const QualityReport& q = *r.quality;
    if (q.kind == CalibrationKind::fitted) {
        // "b = 0.3252·NLL - 3.3824", not "+ -3.3824".
        const char sign = q.beta < 0 ? '-' : '+';
        fmt::print("quality   tau {} (fitted, {}): context NLL {:.4f} nats/token, b = {:.4f}·NLL {} {:.4f} = {:.4f} "
                   "-> kept fraction {:.4f}, ratio {:.4f} ({:.2f} s)\n",
                   q.tau, q.calibration_path, r.context_nll, q.alpha, sign, std::abs(q.beta), q.b, q.kept_fraction,
                   q.ratio, q.seconds);
        return;
    }
    const OnlineCalibration& online = *q.online;
    fmt::print("quality   tau {} (online, {} probes, {} answer tokens, full-cache probe NLL {:.4f}) -> kept fraction "
               "{:.4f}, ratio {:.4f} ({:.2f} s)\n",
               q.tau, online.n_probes, online.n_probe_tokens, online.probe_nll_full, q.kept_fraction, q.ratio,
               q.seconds);
    for (const CalibrationCandidate& c : online.candidates) {
        fmt::print("          tried kept {:.3f} (measured {:.4f}): probe NLL {:.4f}, ratio {:.4f} {} ({:.2f} s)\n",
                   c.kept_fraction, c.kept_measured, c.probe_nll, c.quality_ratio,
                   c.quality_ratio >= q.tau ? "pass" : "fail", c.seconds);
    }
}

void print_header(const RunResult& r) {
    const CompressionOptions& c = r.compression;
    fmt::print("model     {} ({}, {} thread{})\n", r.model_path, r.model_name.empty() ? "unnamed" : r.model_name,
               r.n_threads, r.n_threads == 1 ? "" : "s");
    fmt::print("document  {} ({} context tokens)\n", r.context_path, r.n_context_tokens);
    fmt::print("method    {} at ratio {:.2f}: blend {}, sketch {}, chunk {}, sink {}, recent {}, {} budget\n",
               c.method, c.ratio, c.blend, c.sketch_dim, c.attn_chunk, c.sink, c.recent,
               c.budget == BudgetMode::per_head ? "per_head" : "per_layer");
    fmt::print("KV cache  {:.1f} MiB full -> {:.1f} MiB compressed, kept fraction {:.4f} ({} of {} rows)\n",
               r.kv_bytes_full / kMiB, r.kv_bytes_compressed / kMiB, r.kept_fraction(), r.kv_rows_compressed,
               r.kv_rows_full);
    // Only scorers that run the model a second time (kvzip) have a second pass.
    const std::string second_pass =
        r.report.second_pass_s > 0 ? fmt::format(", second pass {:.2f} s", r.report.second_pass_s) : "";
    fmt::print("timings   prefill {:.2f} s ({:.0f} tokens/s){}, scoring {:.3f} s, compaction {:.3f} s, "
               "decoding {:.2f} s ({:.1f} tokens/s over {} tokens)\n",
               r.prefill_s, r.prefill_tokens_per_s(), second_pass, r.report.score_s, r.report.compact_s, r.decode_s(),
               r.decode_tokens_per_s(), r.n_generated_tokens());
    print_compression_notes(r);
    print_quality(r);
}

std::string answer_caption(const char* cache_name, const Answer& answer) {
    return fmt::format("[{}: {} tokens, {:.1f} tokens/s, {}]", cache_name, answer.n_generated_tokens,
                       per_second(answer.n_generated_tokens, answer.decode_s), to_string(answer.stop_reason));
}

}  // namespace

void print_text(const RunResult& r) {
    print_header(r);

    const std::string indent = "    ";
    const size_t column_width = (output_width() - indent.size() - 3) / 2;
    const std::string full_title = fmt::format("full cache ({:.1f} MiB)", r.kv_bytes_full / kMiB);
    const std::string compressed_title = fmt::format("compressed cache ({:.1f} MiB)", r.kv_bytes_compressed / kMiB);
    for (size_t i = 0; i < r.answers.size(); ++i) {
        const AnswerPair& pair = r.answers[i];
        fmt::print("\nQ{}  {}\n", i + 1, pair.question);
        fmt::print("{}", side_by_side(full_title, compressed_title, column_width, indent));
        fmt::print("{}", side_by_side(pair.full.text, pair.compressed.text, column_width, indent));
        fmt::print("{}", side_by_side(answer_caption("full", pair.full), answer_caption("compressed", pair.compressed),
                                      column_width, indent));
    }
}

}  // namespace compactor::cli
