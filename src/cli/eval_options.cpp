#include <algorithm>

#include <fmt/format.h>

#include "cli/cli_error.h"
#include "cli/model_options.h"
#include "cli/eval_args.h"
#include "cli/scorer_options.h"
#include "eval/eval_list.h"
#include "eval/eval_variant.h"

namespace compactor::cli {

namespace {

void add_sample_options(CLI::App& command, EvalArgs& args) {
    add_selection_options(command, args.selection,
                          "Samples per task and length; the real suite takes the first N of each file");
    command.add_option("--longbench", args.longbench,
                       "Extra LongBench-format JSONL file run in the real suite; repeatable");
    command.add_option("--export-samples", args.export_samples,
                       "Write the samples as JSON lines to this file; without --methods, export and exit");
}

void add_run_shape_options(CLI::App& command, EvalArgs& args) {
    command.add_option("--model", args.model, "GGUF model file (default: the model scripts/fetch_model.sh fetches)");
    command.add_option("--methods", args.methods,
                       "Comma-separated methods; method:per_head or method:per_layer sets one method's budget "
                       "(for example none,compactor,compactor:per_head,snapkv)");
    command.add_option("--ratios", args.ratios, "Comma-separated fractions of context tokens removed, each in [0, 1)")
        ->capture_default_str();
    command.add_option("--budget", args.budget, "Budget of methods without one: per_head or per_layer")
        ->capture_default_str();
    command.add_option("--qualities", args.qualities,
                       "Comma-separated quality budgets τ in (0, 1]: each method also runs with its ratio chosen per "
                       "sample for each τ");
    command.add_option("--calibrate", args.calibrate,
                       "How --qualities choose ratios: fitted, online, or fitted,online for both")
        ->capture_default_str();
    command.add_option("--calibration", args.calibrations,
                       "Fitted calibration file; repeat for several methods (default: calibration/ files made for "
                       "this model, method and budget)");
    command.add_option("--nll-stride", args.nll_stride,
                       "Fitted calibration: measure the context NLL on every n-th document position")
        ->capture_default_str();
    command.add_option("--probes", args.probes, "Online calibration: quoting probes per document")
        ->capture_default_str();
    command.add_option("--protocol", args.protocol,
                       "agnostic: compress before the question is seen; aware: prefill the question with the "
                       "context and protect it")
        ->capture_default_str();
    command.add_option("--out", args.out, "Output folder for results.jsonl, summary.md and score_vs_ratio.png/.svg");
    command.add_option("--threads", args.threads, "Worker threads; 0 uses all cores")->capture_default_str();
    add_weight_format_option(command, args.weights);
    command.add_option("--batch", args.batch, "Answers generated together at most (bounds memory)")
        ->capture_default_str();
    command.add_option("--prefill-chunk", args.prefill_chunk, "Tokens per prefill forward pass (>= 1)")
        ->capture_default_str();
    command.add_flag("--report-only", args.report_only,
                     "Rebuild summary.md and the plots from the results.jsonl in --out without running any sample");
    command.add_flag("--quiet", args.quiet, "No progress bar and no line per finished sample");
}

void add_knob_options(CLI::App& command, EvalArgs& args) {
    add_scorer_knob_options(command, args.compression, args.no_value_weighting);
}

void check_counts(const EvalArgs& args) {
    if (args.batch < 1) {
        throw CliError(fmt::format("--batch {} is invalid; generate at least 1 answer at a time (64 by default)",
                                   args.batch));
    }
    if (args.prefill_chunk < 1) {
        throw CliError(fmt::format("--prefill-chunk {} is invalid; use a positive token count (512 by default)",
                                   args.prefill_chunk));
    }
    check_thread_count(args.threads);
    if (args.methods.empty() && args.export_samples.empty()) {
        throw CliError("no methods given; pass --methods such as none,compactor (or --export-samples FILE alone)");
    }
    if (!args.methods.empty() && args.out.empty()) {
        throw CliError("no output folder given; pass --out DIR for results.jsonl, summary.md and the plots");
    }
}

// A library's std::invalid_argument, reworded as the option's error.
template <typename Parse>
auto parse_option(const char* option, Parse parse) {
    try {
        return parse();
    } catch (const std::invalid_argument& e) {
        throw CliError(fmt::format("{}: {}", option, e.what()));
    }
}

}  // namespace

void add_eval_options(CLI::App& command, EvalArgs& args) {
    add_sample_options(command, args);
    add_run_shape_options(command, args);
    add_knob_options(command, args);
}

EvalPlan finish_eval_args(const EvalArgs& args) {
    check_counts(args);
    EvalPlan plan;

    plan.selection = parse_selection(args.selection);
    plan.selection.longbench_files = args.longbench;

    eval::EvalOptions& options = plan.options;
    const BudgetMode budget = parse_option("--budget", [&] { return eval::parse_budget(args.budget); });
    options.protocol = parse_option("--protocol", [&] { return eval::parse_protocol(args.protocol); });
    if (!args.methods.empty()) {
        options.methods = parse_option("--methods", [&] { return eval::parse_method_list(args.methods, budget); });
    }
    options.ratios = parse_option("--ratios", [&] { return eval::parse_ratio_list(args.ratios); });
    options.compression = args.compression;
    options.compression.budget = budget;
    options.compression.value_weighting = !args.no_value_weighting;
    options.compression.seed = args.selection.seed;
    options.compression.ratio = 0;
    options.max_batch = args.batch;
    options.prefill_chunk = args.prefill_chunk;
    if (!args.qualities.empty()) {
        options.qualities = parse_option("--qualities", [&] { return eval::parse_quality_list(args.qualities); });
        for (const std::string& kind : eval::split_comma_list(args.calibrate)) {
            const eval::CalibrationKind parsed =
                parse_option("--calibrate", [&] { return eval::parse_calibration_kind(kind); });
            if (std::find(options.calibration_kinds.begin(), options.calibration_kinds.end(), parsed) ==
                options.calibration_kinds.end()) {
                options.calibration_kinds.push_back(parsed);
            }
        }
    }
    if (args.nll_stride < 1) {
        throw CliError(fmt::format("--nll-stride {} is invalid; use 1 or more", args.nll_stride));
    }
    if (args.probes < 1) throw CliError(fmt::format("--probes {} is invalid; use at least 1", args.probes));
    options.nll_stride = args.nll_stride;
    options.online.n_probes = args.probes;
    options.online.seed = args.selection.seed;
    try {
        validate(options.compression);
    } catch (const std::invalid_argument& e) {
        throw CliError(fmt::format("{} (see compactor eval --help)", e.what()));
    }
    return plan;
}

std::string quote_command_line(int argc, const char* const* argv) {
    std::string line;
    for (int i = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i > 0) line += ' ';
        const bool plain = !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                 "0123456789-_./,:=@+%") == std::string::npos;
        if (plain) {
            line += arg;
            continue;
        }
        line += '\'';
        for (char c : arg) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
        line += '\'';
    }
    return line;
}

}  // namespace compactor::cli
