#include "cli/run_args.h"


#include <fmt/format.h>

#include "cli/cli_error.h"
#include "cli/model_options.h"
#include "cli/scorer_options.h"

namespace compactor::cli {

namespace {

void add_compression_options(CLI::App& command, RunArgs& args) {
    CompressionOptions& c = args.compression;
    command.add_option("--ratio", c.ratio, "Fraction of context tokens removed from the KV cache, in [0, 1)")
        ->capture_default_str()
        ->each([&args](const std::string&) { args.ratio_given = true; });
    command.add_option("--method", c.method, "Scorer: none, compactor, leverage, chunked_attention, exact_leverage, streaming_llm, knorm, random, snapkv, pyramidkv, expected_attention, tova, keydiff or kvzip")
        ->capture_default_str();
    command.add_option("--budget", args.budget,
                       "per_head: every KV head keeps the same count; per_layer: one top-k over a layer's heads")
        ->capture_default_str();
    add_scorer_knob_options(command, c, args.no_value_weighting);
    command.add_option("--seed", c.seed, "Seed of the Gaussian sketch")->capture_default_str();
}

void add_sampling_options(CLI::App& command, RunArgs& args) {
    SamplingOptions& s = args.sampling;
    command.add_option("--temperature", s.temperature, "Sampling temperature; 0 decodes greedily")
        ->capture_default_str();
    command.add_option("--top-k", s.top_k, "Sample from the k most likely tokens; 0 turns it off")
        ->capture_default_str();
    command.add_option("--top-p", s.top_p, "Sample from the smallest set of tokens whose probability reaches p")
        ->capture_default_str();
    command.add_option("--sample-seed", s.seed, "Seed of the sampler (each answer restarts from it)")
        ->capture_default_str();
}

}  // namespace

void add_run_options(CLI::App& command, RunArgs& args) {
    command.add_option("--model", args.model, "GGUF model file (default: the model scripts/fetch_model.sh fetches)");
    command.add_option("--context", args.context, "Text file to prefill (default: the bundled examples/document.txt)");
    command.add_option("--question", args.questions,
                       "Question to answer; repeat for several (default: examples/questions.txt)");
    // Ranges are checked in finish_run_args, so that a bad value gets the same
    // one-line error and exit code 1 as every other invalid input.
    command.add_option("--max-tokens", args.max_tokens, "Tokens generated per answer at most (>= 1)")
        ->capture_default_str();
    command.add_option("--threads", args.threads, "Worker threads; 0 uses all cores")
        ->capture_default_str();
    add_weight_format_option(command, args.weights);
    command.add_option("--prefill-chunk", args.prefill_chunk, "Tokens per prefill forward pass (>= 1)")
        ->capture_default_str();
    command.add_flag("--json", args.json, "Print one JSON object on stdout (logs stay on stderr)");
    add_compression_options(command, args);
    add_quality_options(command, args.quality);
    add_sampling_options(command, args);
}

void finish_run_args(RunArgs& args) {
    if (args.max_tokens < 1) {
        throw CliError(fmt::format("--max-tokens {} is invalid; generate at least 1 token per answer", args.max_tokens));
    }
    if (args.prefill_chunk < 1) {
        throw CliError(fmt::format("--prefill-chunk {} is invalid; use a positive token count (512 by default)",
                                   args.prefill_chunk));
    }
    check_thread_count(args.threads);
    if (args.budget != "per_head" && args.budget != "per_layer") {
        throw CliError(fmt::format("--budget '{}' is invalid; use per_head or per_layer", args.budget));
    }
    for (const std::string& question : args.questions) {
        if (question.find_first_not_of(" \t\r\n") == std::string::npos) {
            throw CliError("--question is empty; pass the question text");
        }
    }
    finish_quality_args(args.quality);
    if (args.quality.enabled() && args.ratio_given) {
        throw CliError("--ratio and --quality both set the compression ratio; pass only one of them");
    }
    args.compression.budget = args.budget == "per_head" ? BudgetMode::per_head : BudgetMode::per_layer;
    args.compression.value_weighting = !args.no_value_weighting;
}

}  // namespace compactor::cli
