#include "cli/run_command.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/cli_error.h"
#include "cli/default_paths.h"
#include "cli/progress_line.h"
#include "cli/quality_choice.h"
#include "cli/run_result.h"
#include "compactor/engine.h"
#include "tokenizer/trim.h"

namespace compactor::cli {

namespace {

namespace fs = std::filesystem;

// Format tokens around a question ("\n\nQuestion: ", "\nAnswer briefly." and
// the turn markers), an upper bound for the prompt format in engine.h.
constexpr int64_t kQuestionFormatTokens = 24;

// `hint` ends the not-found message with what the user can do.
std::string read_text_file(const fs::path& path, const char* file_kind, const char* hint) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
        throw CliError(fmt::format("{} {} is a directory; pass a text file", file_kind, path.string()));
    }
    if (!fs::is_regular_file(path, error)) {
        throw CliError(fmt::format("{} not found: {} ({})", file_kind, path.string(), hint));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CliError(fmt::format("cannot read {} {}: check its permissions", file_kind, path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> read_questions(const fs::path& path) {
    std::istringstream lines(read_text_file(path, "questions file", "set COMPACTOR_EXAMPLES or pass --question TEXT"));
    std::vector<std::string> questions;
    for (std::string line; std::getline(lines, line);) {
        if (std::string question(trim_whitespace(line)); !question.empty()) questions.push_back(std::move(question));
    }
    if (questions.empty()) throw CliError(fmt::format("questions file {} has no questions; write one per line", path.string()));
    return questions;
}

// The context path and questions: the user's, or the bundled example.
void resolve_inputs(RunArgs& args) {
    if (!args.context.empty()) {
        if (args.questions.empty()) {
            throw CliError("no question given for --context " + args.context + "; pass --question TEXT (repeatable)");
        }
        return;
    }
    const fs::path examples = find_examples_dir();
    args.context = (examples / "document.txt").string();
    if (args.questions.empty()) args.questions = read_questions(examples / "questions.txt");
}

void check_options(RunArgs& args) {
    finish_run_args(args);
    if (args.compression.seed > (uint64_t{1} << 63)) {
        spdlog::warn("run: --seed {} looks like a negative number wrapped to 64 bits", args.compression.seed);
    }
    try {
        validate(args.compression);
        Sampler check_sampling(args.sampling);
    } catch (const std::invalid_argument& e) {
        throw CliError(fmt::format("{} (see compactor run --help)", e.what()));
    }
    if (args.quality.enabled() && args.compression.method == "none") {
        throw CliError("--quality needs a compression method, but --method is none; pick one such as compactor");
    }
}

int64_t answer_reserve(const Engine& engine, const RunArgs& args) {
    int64_t longest_question = 0;
    for (const std::string& question : args.questions) {
        const auto n_tokens = static_cast<int64_t>(engine.tokenizer().encode(question, false).size());
        longest_question = std::max(longest_question, n_tokens);
    }
    return longest_question + kQuestionFormatTokens + args.max_tokens;
}

Answer answer_trimmed(const DocumentSession& session, const std::string& question, const GenerationOptions& options) {
    Answer answer = session.answer(question, options);
    answer.text = std::string(trim_whitespace(answer.text));
    return answer;
}

}  // namespace

int run_command(RunArgs args) {
    check_options(args);
    const std::string model_path = args.model.empty() ? default_model_path() : args.model;
    if (std::error_code error; fs::is_directory(model_path, error)) {
        throw CliError(fmt::format("model path {} is a directory; pass --model with a .gguf file", model_path));
    }
    if (std::error_code error; !fs::is_regular_file(model_path, error)) {
        throw CliError(fmt::format("model file not found: {} (run scripts/fetch_model.sh or pass --model PATH)",
                                   model_path));
    }
    resolve_inputs(args);
    const std::string document = read_text_file(args.context, "context file", "pass --context FILE with an existing text file");
    if (trim_whitespace(document).empty()) {
        throw CliError(fmt::format("context file {} is empty; pass --context FILE with text to read", args.context));
    }

    Engine engine(model_path, args.threads, args.weights);
    std::optional<LoadedCalibration> fitted;
    if (args.quality.enabled() && args.quality.kind == CalibrationKind::fitted) {
        fitted = load_calibration(engine, args.compression, args.quality);
    }

    // One prefill; the compressed session starts as a copy of the full one.
    DocumentOptions document_options;
    document_options.compression = args.compression;
    document_options.prefill_chunk = args.prefill_chunk;
    document_options.answer_reserve = answer_reserve(engine, args);
    document_options.nll_stride = args.quality.nll_stride;
    ProgressLine progress("prefill");
    // The line ends with the last chunk, before the engine logs the prefill's end.
    document_options.on_progress = [&progress](const PrefillProgress& p) {
        progress.update(p.n_done, p.n_total, p.elapsed_s);
        if (p.n_done == p.n_total) progress.finish();
    };
    const DocumentSession full = engine.open_document(document, document_options);
    DocumentSession compressed = full;

    RunResult result;
    if (args.quality.enabled()) {
        result.quality = choose_ratio_for_quality(full, args.compression, args.quality, fitted ? &*fitted : nullptr);
        args.compression.ratio = result.quality->ratio;
    }
    result.report = compressed.compress(args.compression);
    result.model_path = model_path;
    result.model_name = engine.config().name;
    result.n_threads = engine.model().n_threads();
    result.weight_format = engine.model().weight_format();
    result.weight_bytes = engine.model().weight_bytes();
    result.context_path = args.context;
    result.n_context_tokens = full.n_context_tokens();
    result.compression = args.compression;
    result.kv_bytes_full = full.cache().size_bytes();
    result.kv_bytes_compressed = compressed.cache().size_bytes();
    result.kv_rows_full = full.cache().total_rows();
    result.kv_rows_compressed = compressed.cache().total_rows();
    result.prefill_s = full.prefill_s();
    result.context_nll = full.context_nll();
    result.n_nll_tokens = full.n_nll_tokens();

    const GenerationOptions generation{args.max_tokens, args.sampling};
    for (size_t i = 0; i < args.questions.size(); ++i) {
        const std::string& question = args.questions[i];
        spdlog::info("run: answering question {}/{}", i + 1, args.questions.size());
        result.answers.push_back(
            {question, answer_trimmed(full, question, generation), answer_trimmed(compressed, question, generation)});
    }

    if (args.json) {
        print_json(result);
    } else {
        print_text(result);
    }
    return 0;
}

}  // namespace compactor::cli
