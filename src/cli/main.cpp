// The `compactor` command: `run` answers questions about a document from a
// full and a compressed KV cache, `inspect` prints a GGUF file's contents,
// `bench` measures speed and memory, `eval` scores compression methods on
// evaluation tasks, `calibrate fit` fits the quality budget's calibration.
// Exit codes: 0 on success (and for --help, --version), 1 on any error.
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/bench_command.h"
#include "cli/calibrate_command.h"
#include "cli/eval_command.h"
#include "cli/inspect_command.h"
#include "cli/logging.h"
#include "cli/run_command.h"
#include "compactor/version.h"

namespace {

using namespace compactor::cli;

void add_log_level_option(CLI::App& command, std::string& log_level) {
    command.add_option("--log-level", log_level, "Log detail on stderr: trace, debug, info, warn, error or off")
        ->check(CLI::IsMember(std::vector<std::string>(std::begin(kLogLevels), std::end(kLogLevels))))
        ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
    init_logging();

    CLI::App app{"compactor: answer questions about a long document from a compressed KV cache"};
    app.set_version_flag("--version", std::string("compactor ") + compactor::kVersion);
    app.require_subcommand(1);
    std::string log_level = "info";

    RunArgs run_args;
    CLI::App* run = app.add_subcommand("run", "Prefill a document, compress its KV cache and answer questions");
    add_run_options(*run, run_args);
    add_log_level_option(*run, log_level);

    std::string inspect_path;
    CLI::App* inspect = app.add_subcommand("inspect", "Print a GGUF file's metadata and tensors");
    inspect->add_option("model", inspect_path, "GGUF model file")->required();
    add_log_level_option(*inspect, log_level);

    BenchArgs bench_args;
    CLI::App* bench = app.add_subcommand("bench", "Measure prefill, compression and decode speed and memory per context length");
    add_bench_options(*bench, bench_args);
    add_log_level_option(*bench, log_level);

    EvalArgs eval_args;
    eval_args.command_line = quote_command_line(argc, argv);
    CLI::App* eval = app.add_subcommand("eval", "Score compression methods and ratios on RULER-style and real-document tasks");
    add_eval_options(*eval, eval_args);
    add_log_level_option(*eval, log_level);

    CalibrateFitArgs fit_args;
    fit_args.command_line = quote_command_line(argc, argv);
    CLI::App* calibrate =
        app.add_subcommand("calibrate", "Fit how far each document can be compressed for a quality budget");
    calibrate->require_subcommand(1);
    CLI::App* calibrate_fit = calibrate->add_subcommand(
        "fit", "Measure answer NLL under compression on a task suite and fit a calibration file per method");
    add_calibrate_fit_options(*calibrate_fit, fit_args);
    add_log_level_option(*calibrate_fit, log_level);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help and --version
        // Point at the subcommand's own help when the error is in its options.
        const std::string sub = argc > 1 ? argv[1] : "";
        const bool known =
            sub == "run" || sub == "bench" || sub == "eval" || sub == "inspect" || sub == "calibrate";
        report_error(std::string(e.what()) + (known ? " (see compactor " + sub + " --help)" : " (see compactor --help)"));
        return 1;
    }
    set_log_level(log_level);

    try {
        if (*run) return run_command(run_args);
        if (*bench) return bench_command(bench_args);
        if (*eval) return eval_command(eval_args);
        if (*calibrate_fit) return calibrate_fit_command(fit_args);
        return inspect_command(inspect_path);
    } catch (const std::exception& e) {
        report_error(e.what());
        return 1;
    }
}
