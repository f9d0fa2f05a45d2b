#include "cli/bench_command.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/bench_flops.h"
#include "cli/bench_measure.h"
#include "cli/bench_result.h"
#include "cli/bench_system.h"
#include "cli/cli_error.h"
#include "cli/default_paths.h"
#include "compactor/engine.h"
#include "engine/json_text.h"

namespace compactor::cli {

namespace {

namespace fs = std::filesystem;

std::string resolve_model_path(const BenchArgs& args) {
    const std::string path = args.model.empty() ? default_model_path() : args.model;
    if (std::error_code error; fs::is_directory(path, error)) {
        throw CliError(fmt::format("model path {} is a directory; pass --model with a .gguf file", path));
    }
    if (std::error_code error; !fs::is_regular_file(path, error)) {
        throw CliError(fmt::format("model file not found: {} (run scripts/fetch_model.sh or pass --model PATH)", path));
    }
    return path;
}

std::string read_context(const std::string& path) {
    if (std::error_code error; !fs::is_regular_file(path, error)) {
        throw CliError(
            fmt::format("context file not found: {} (pass --context FILE with an existing text file)", path));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CliError(fmt::format("cannot read context file {}: check its permissions", path));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The document's tokens repeated end to end and cut at exactly n_tokens.
std::vector<int32_t> context_of_length(const std::vector<int32_t>& document, int64_t n_tokens) {
    std::vector<int32_t> context;
    context.reserve(static_cast<size_t>(n_tokens));
    while (static_cast<int64_t>(context.size()) < n_tokens) {
        const auto missing = static_cast<size_t>(n_tokens) - context.size();
        const size_t take = std::min(missing, document.size());
        context.insert(context.end(), document.begin(), document.begin() + static_cast<std::ptrdiff_t>(take));
    }
    return context;
}

void write_tokens(const std::string& path, const std::string& model_path, const std::vector<int64_t>& lengths,
                  const std::vector<std::vector<int32_t>>& contexts) {
    nlohmann::json tokens = nlohmann::json::object();
    for (size_t i = 0; i < lengths.size(); ++i) tokens[std::to_string(lengths[i])] = contexts[i];
    const nlohmann::json dump = {{"model", model_path}, {"lengths", lengths}, {"tokens", tokens}};

    std::ofstream out(path, std::ios::binary);
    out << json_text(dump) << '\n';
    if (!out) {
        throw CliError(
            fmt::format("cannot write --dump-tokens file {}: check that the folder exists and is writable", path));
    }
    spdlog::info("bench: wrote the token ids of {} context lengths to {}", lengths.size(), path);
}

void log_run(const LengthResult& length, int64_t decode_tokens) {
    const BenchRun& run = length.runs.back();
    const auto n_decode = static_cast<double>(decode_tokens);
    spdlog::info("bench: {} tokens, run {}: prefill {:.1f} tokens/s, scoring {:.3f} s, compaction {:.3f} s, decode "
                 "{:.1f} tokens/s from the full cache, {:.1f} tokens/s from the compressed cache",
                 length.n_tokens, length.runs.size(), static_cast<double>(length.n_tokens) / run.prefill_s,
                 run.score_s, run.compact_s, n_decode / run.decode_full_s, n_decode / run.decode_compressed_s);
}

}  // namespace

int bench_command(BenchArgs args) {
    finish_bench_args(args);
    try {
        validate(args.compression);
    } catch (const std::invalid_argument& e) {
        throw CliError(fmt::format("{} (see compactor bench --help)", e.what()));
    }
    const std::string model_path = resolve_model_path(args);
    if (args.context.empty()) args.context = (find_examples_dir() / "document.txt").string();
    const std::string text = read_context(args.context);

    const Engine engine(model_path, args.threads, args.weights);
    const std::vector<int32_t> document = engine.tokenizer().encode(text, false);
    if (document.empty()) {
        throw CliError(fmt::format("context file {} has no tokens; pass --context FILE with text", args.context));
    }
    const int64_t n_ctx_train = engine.config().n_ctx_train;
    if (args.lengths.back() > n_ctx_train) {
        throw CliError(fmt::format("--lengths {} exceeds the model's context of {} tokens; use lengths up to {}",
                                   args.lengths.back(), n_ctx_train, n_ctx_train));
    }
    if (args.lengths.back() + args.decode_tokens > n_ctx_train) {
        spdlog::warn("bench: {} context tokens + {} decode tokens exceed the model's training context of {} tokens; "
                     "speed is still measured, but outputs past it are not meaningful",
                     args.lengths.back(), args.decode_tokens, n_ctx_train);
    }

    std::vector<std::vector<int32_t>> contexts;
    for (const int64_t length : args.lengths) contexts.push_back(context_of_length(document, length));
    if (!args.dump_tokens.empty()) write_tokens(args.dump_tokens, model_path, args.lengths, contexts);
    if (args.tokens_only) return 0;

    const SystemInfo system = read_system_info();
    BenchResult result;
    result.model_path = model_path;
    result.model_name = engine.config().name;
    result.context_path = args.context;
    result.n_threads = engine.model().n_threads();
    result.compression = args.compression;
    result.runs = args.runs;
    result.decode_tokens = args.decode_tokens;
    result.prefill_chunk = args.prefill_chunk;
    result.model_file_bytes = engine.model().file().file_size();
    result.weight_format = engine.model().weight_format();
    result.weight_bytes = engine.model().weight_bytes();
    result.cpu_model = system.cpu_model;
    result.cpu_flags = system.cpu_flags;
    result.compiler = system.compiler;
    result.blas = system.blas;

    const MeasureSettings settings{args.compression, args.decode_tokens, args.prefill_chunk,
                                   !args.skip_no_scorer_prefill};
    const LengthBench bench(engine.model(), engine.tokenizer(), engine.chat_template(), settings);
    for (size_t i = 0; i < args.lengths.size(); ++i) {
        LengthResult length;
        length.n_tokens = args.lengths[i];
        length.prefill_flop = prefill_flop(engine.config(), length.n_tokens);

        spdlog::info("bench: {} tokens, warm-up run", length.n_tokens);
        length.peak = bench.warm_up(contexts[i]);
        for (int run = 0; run < args.runs; ++run) {
            length.runs.push_back(bench.run(contexts[i]));
            log_run(length, args.decode_tokens);
        }
        result.lengths.push_back(std::move(length));
    }

    if (args.json) {
        print_bench_json(result);
    } else {
        print_bench_text(result);
    }
    return 0;
}

}  // namespace compactor::cli
