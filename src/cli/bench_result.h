// Measurements of `compactor bench`, for the text and JSON outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cli/bench_memory.h"
#include "cli/bench_stats.h"
#include "compress/compressor.h"
#include "model/weight_matrix.h"

namespace compactor::cli {

// One measured run at one context length. Times are wall-clock seconds.
struct BenchRun {
    double prefill_s = 0;             // prefill with the scorer observing
    double prefill_no_scorer_s = -1;  // prefill without a scorer, negative when not measured
    double observe_s = 0;             // inside the scorer's observe() calls during prefill_s
    double second_pass_s = 0;         // the repetition run of scorers that need it (kvzip), else 0
    double score_s = 0;               // the scorer's finalize()
    double compact_s = 0;             // selection and compaction
    double decode_full_s = 0;         // decode_tokens steps from a copy of the full cache
    double decode_compressed_s = 0;   // decode_tokens steps from a copy of the compressed cache
    size_t kv_bytes_full = 0;
    size_t kv_bytes_compressed = 0;
    int64_t kv_rows_full = 0;
    int64_t kv_rows_compressed = 0;
};

struct LengthResult {
    int64_t n_tokens = 0;
    double prefill_flop = 0;  // useful FLOPs of one prefill, see prefill_flop() in bench_flops.h
    PeakRss peak;             // during the warm-up run
    std::vector<BenchRun> runs;

    // Spread of one figure over the runs.
    Spread spread(const std::function<double(const BenchRun&)>& figure) const {
        std::vector<double> samples;
        for (const BenchRun& run : runs) samples.push_back(figure(run));
        return spread_of(std::move(samples));
    }
    bool no_scorer_measured() const { return !runs.empty() && runs.front().prefill_no_scorer_s >= 0; }
    bool second_pass_measured() const { return !runs.empty() && runs.front().second_pass_s > 0; }
};

struct BenchResult {
    std::string model_path;
    std::string model_name;
    std::string context_path;
    int n_threads = 0;
    CompressionOptions compression;
    int runs = 0;
    int64_t decode_tokens = 0;
    int64_t prefill_chunk = 0;
    size_t model_file_bytes = 0;
    WeightFormat weight_format = WeightFormat::quantized;
    size_t weight_bytes = 0;       // the weights in memory (Model::weight_bytes)
    std::string cpu_model;         // /proc/cpuinfo "model name"
    std::vector<std::string> cpu_flags;  // the vector-instruction flags that matter for kernels
    std::string compiler;
    std::string blas;              // openblas_get_config()
    std::vector<LengthResult> lengths;
};

void print_bench_text(const BenchResult& result);
void print_bench_json(const BenchResult& result);

}  // namespace compactor::cli
