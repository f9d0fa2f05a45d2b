#include "cli/calibrate_args.h"

#include "cli/model_options.h"
#include "cli/scorer_options.h"

namespace compactor::cli {

void add_calibrate_fit_options(CLI::App& command, CalibrateFitArgs& args) {
    command.add_option("--model", args.model, "GGUF model file (default: the model scripts/fetch_model.sh fetches)");
    command.add_option("--methods", args.methods, "Comma-separated methods to fit, one calibration file each")
        ->capture_default_str();
    command.add_option("--budget", args.budget, "Budget mode the calibrations are for: per_head or per_layer")
        ->capture_default_str();
    add_selection_options(command, args.selection, "Samples per task and length");
    command.add_option("--kept-grid", args.kept_grid, "Comma-separated kept fractions measured per sample, in (0, 1)")
        ->capture_default_str();
    command.add_option("--over-weight", args.over_weight,
                       "Loss weight (>= 1) of points where the curve predicts more quality than measured, which "
                       "would over-compress")
        ->capture_default_str();
    command.add_option("--nll-stride", args.nll_stride, "Measure the context NLL on every n-th document position (>= 1)")
        ->capture_default_str();
    command.add_option("--threads", args.threads, "Worker threads; 0 uses all cores")->capture_default_str();
    add_weight_format_option(command, args.weights);
    command.add_option("--prefill-chunk", args.prefill_chunk, "Tokens per prefill forward pass (>= 1)")
        ->capture_default_str();
    command.add_option("--out", args.out,
                       "Output folder: fit-data.jsonl (one line per sample, resumable) and one calibration file "
                       "per method")
        ->required();
    command.add_flag("--quiet", args.quiet, "No progress bar");
    add_scorer_knob_options(command, args.compression, args.no_value_weighting);
}

}  // namespace compactor::cli
