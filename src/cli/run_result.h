// Measurements of one `compactor run`, for the text and JSON outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/quality_choice.h"
#include "compactor/engine.h"

namespace compactor::cli {

struct AnswerPair {
    std::string question;
    Answer full;        // from the full KV cache; text trimmed of surrounding whitespace
    Answer compressed;  // from the compressed KV cache; text trimmed likewise
};

struct RunResult {
    std::string model_path;
    std::string model_name;
    int n_threads = 0;
    WeightFormat weight_format = WeightFormat::quantized;
    size_t weight_bytes = 0;  // the weights in memory (Model::weight_bytes)
    std::string context_path;
    int64_t n_context_tokens = 0;
    CompressionOptions compression;
    CompressionReport report;
    size_t kv_bytes_full = 0;
    size_t kv_bytes_compressed = 0;
    int64_t kv_rows_full = 0;        // rows over all layers and heads, measured on the caches
    int64_t kv_rows_compressed = 0;
    double prefill_s = 0;
    double context_nll = 0;          // nats per document token; NaN when not measured
    int64_t n_nll_tokens = 0;        // document tokens context_nll averages over
    std::optional<QualityReport> quality;  // set when --quality chose the ratio
    std::vector<AnswerPair> answers;

    double kept_fraction() const {
        return kv_rows_full > 0 ? static_cast<double>(kv_rows_compressed) / static_cast<double>(kv_rows_full) : 1.0;
    }
    double prefill_tokens_per_s() const { return prefill_s > 0 ? n_context_tokens / prefill_s : 0.0; }
    // Totals over every answer, full and compressed.
    double decode_s() const {
        double total = 0;
        for (const AnswerPair& pair : answers) total += pair.full.decode_s + pair.compressed.decode_s;
        return total;
    }
    int64_t n_generated_tokens() const {
        int64_t total = 0;
        for (const AnswerPair& pair : answers) total += pair.full.n_generated_tokens + pair.compressed.n_generated_tokens;
        return total;
    }
    double decode_tokens_per_s() const {
        const double seconds = decode_s();
        return seconds > 0 ? static_cast<double>(n_generated_tokens()) / seconds : 0.0;
    }
};

void print_text(const RunResult& result);
void print_json(const RunResult& result);

}  // namespace compactor::cli
