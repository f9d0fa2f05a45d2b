#include "cli/bench_args.h"

#include <algorithm>

#include <fmt/format.h>

#include "cli/cli_error.h"
#include "cli/model_options.h"

namespace compactor::cli {

namespace {

// Runs and lengths above these bounds would take hours on a CPU, so the
// bounds catch typos such as an extra zero.
constexpr int kMaxRuns = 100;
constexpr int64_t kMaxDecodeTokens = 65536;
constexpr int64_t kMaxLength = 1 << 20;

}  // namespace

void add_bench_options(CLI::App& command, BenchArgs& args) {
    command.add_option("--model", args.model, "GGUF model file (default: the model scripts/fetch_model.sh fetches)");
    command.add_option("--context", args.context,
                       "Text file whose tokens, repeated and cut, fill each context (default: examples/document.txt)");
    command.add_option("--lengths", args.lengths, "Context lengths in tokens, comma-separated")
        ->delimiter(',')
        ->capture_default_str();
    command.add_option("--ratio", args.compression.ratio, "Fraction of context tokens removed, in [0, 1)")
        ->capture_default_str();
    command.add_option("--method", args.compression.method,
                       "Scorer that observes the prefill (list: compactor run --help)")
        ->capture_default_str();
    command.add_option("--runs", args.runs, "Measured runs per length after one warm-up run (>= 1)")
        ->capture_default_str();
    command.add_option("--decode-tokens", args.decode_tokens,
                       "Tokens generated per decode measurement, greedy, never stopping early (>= 1)")
        ->capture_default_str();
    command.add_option("--prefill-chunk", args.prefill_chunk, "Tokens per prefill forward pass (>= 1)")
        ->capture_default_str();
    command.add_option("--threads", args.threads, "Worker threads; 0 uses all cores")->capture_default_str();
    add_weight_format_option(command, args.weights);
    command.add_flag("--skip-no-scorer-prefill", args.skip_no_scorer_prefill,
                     "Do not time a prefill without the scorer (saves one prefill per run)");
    command.add_option("--dump-tokens", args.dump_tokens,
                       "Write the context token ids to this JSON file: {\"model\", \"lengths\", \"tokens\": {\"<length>\": [ids]}}");
    command.add_flag("--tokens-only", args.tokens_only, "Write --dump-tokens and exit without measuring");
    command.add_flag("--json", args.json, "Print one JSON object on stdout (fields: see docs/results/performance.md)");
}

void finish_bench_args(BenchArgs& args) {
    if (args.lengths.empty()) {
        throw CliError("--lengths is empty; pass context lengths in tokens, for example --lengths 1024,2048");
    }
    for (const int64_t length : args.lengths) {
        if (length < 1 || length > kMaxLength) {
            throw CliError(fmt::format("--lengths value {} is invalid; use token counts from 1 to {}", length,
                                       kMaxLength));
        }
    }
    std::sort(args.lengths.begin(), args.lengths.end());
    args.lengths.erase(std::unique(args.lengths.begin(), args.lengths.end()), args.lengths.end());

    if (args.runs < 1 || args.runs > kMaxRuns) {
        throw CliError(fmt::format("--runs {} is invalid; use a count from 1 to {} (3 or more for a median)",
                                   args.runs, kMaxRuns));
    }
    if (args.decode_tokens < 1 || args.decode_tokens > kMaxDecodeTokens) {
        throw CliError(fmt::format("--decode-tokens {} is invalid; use a count from 1 to {}", args.decode_tokens,
                                   kMaxDecodeTokens));
    }
    if (args.prefill_chunk < 1) {
        throw CliError(fmt::format("--prefill-chunk {} is invalid; use a positive token count (512 by default)",
                                   args.prefill_chunk));
    }
    check_thread_count(args.threads);
    if (args.tokens_only && args.dump_tokens.empty()) {
        throw CliError("--tokens-only needs --dump-tokens FILE to write the token ids to");
    }
    if (args.compression.method == "none") {
        throw CliError("--method none has nothing to measure; pick a scorer such as compactor");
    }
}

}  // namespace compactor::cli
