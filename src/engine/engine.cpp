#include <filesystem>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "compactor/engine.h"
#include "engine/stopwatch.h"

namespace compactor {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

void log_loaded(const Engine& engine, double load_s) {
    const ModelConfig& config = engine.config();
    const size_t kv_bytes_per_token =
        static_cast<size_t>(config.n_layer) * config.n_head_kv * config.head_dim * 2 * sizeof(float);
    spdlog::info("engine: loaded {} ({:.1f} MiB file) in {:.2f} s: {} threads, {:.1f} MiB of {} weights, "
                 "{} vocabulary tokens, context {} tokens, KV cache {:.1f} KiB per token (fp32), {} chat turns "
                 "with a default system prompt of {} bytes",
                 engine.model_path(), engine.model().file().file_size() / kMiB, load_s, engine.model().n_threads(),
                 engine.model().weight_bytes() / kMiB, to_string(engine.model().weight_format()),
                 engine.tokenizer().n_vocab(), config.n_ctx_train, kv_bytes_per_token / 1024.0,
                 to_string(engine.chat_template().chat_format()),
                 engine.chat_template().default_system_prompt().size());
}

}  // namespace

Engine::Engine(const std::string& model_path, int n_threads, WeightFormat weights) : model_path_(model_path) {
    if (!std::filesystem::is_regular_file(model_path)) {
        throw std::runtime_error("model file not found: " + model_path);
    }

    spdlog::info("engine: loading {}", model_path);
    Stopwatch load_time;
    model_ = Model::load(model_path, n_threads, weights);
    tokenizer_ = std::make_unique<Tokenizer>(read_vocab(model_->file()));
    chat_template_ = ChatTemplate::from_gguf(model_->file());
    if (!chat_template_.has_template()) {
        spdlog::warn("engine: {} has no tokenizer.chat_template; prompts use ChatML without a system turn", model_path);
    }
    log_loaded(*this, load_time.elapsed_s());
}

Engine::~Engine() = default;

const char* to_string(StopReason reason) {
    switch (reason) {
        case StopReason::eos: return "eos";
        case StopReason::eot: return "eot";
        case StopReason::max_tokens: return "max_tokens";
    }
    return "unknown";
}

}  // namespace compactor
