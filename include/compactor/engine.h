// The compactor C++ API: load a model, prefill a document once, compress its
// KV cache without knowing the questions, and answer questions from it.
//
//   compactor::Engine engine("SmolLM2-135M-Instruct.Q4_1.gguf", /*n_threads=*/0);
//   compactor::DocumentSession full = engine.open_document(text, {});
//   compactor::DocumentSession compressed = full;          // copies the full cache
//   compactor::CompressionReport report = compressed.compress({.ratio = 0.5});
//   compactor::Answer answer = compressed.answer("Who wrote it?", {.max_tokens = 64});
//
// Prompt format, shown in ChatML. The document is prefilled as
//   <|im_start|>system\n{default system prompt}<|im_end|>\n<|im_start|>user\n{document}
// (the system turn only when the model's chat template has a default system
// prompt), and each question continues the same user turn:
//   \n\nQuestion: {question}\nAnswer briefly.<|im_end|>\n<|im_start|>assistant\n
// A model whose template uses Llama 3 turns gets the same text with
// <|start_header_id|>{role}<|end_header_id|>\n\n opening each turn and
// <|eot_id|> closing it.
// Control tokens written inside the document or the question are tokenized
// as plain text, so a document cannot open or close turns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compactor/online_calibration.h"
#include "compactor/version.h"
#include "compress/compressor.h"
#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/model.h"
#include "model/sampler.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {

// Progress of a document prefill, reported after every chunk.
struct PrefillProgress {
    int64_t n_done = 0;       // prompt tokens prefilled so far
    int64_t n_total = 0;      // prompt tokens to prefill
    double elapsed_s = 0;     // wall time since the prefill started
};
using PrefillProgressCallback = std::function<void(const PrefillProgress&)>;

struct DocumentOptions {
    // Scorer settings. The scorer observes the prefill, so its knobs (method,
    // blend, sketch_dim, attn_chunk, sink, recent, leverage_window,
    // value_weighting, seed) are fixed here, and compress() must repeat them.
    CompressionOptions compression;
    int64_t prefill_chunk = 512;       // tokens per forward call (bounds activation memory)
    int64_t answer_reserve = 512;      // context tokens kept free for question and answer
    // The document's mean next-token NLL (context_nll) is measured on every
    // nll_stride-th position; 0 skips it. The output head then runs on
    // 1/nll_stride of the document (about 5% of prefill time at 4 for
    // SmolLM2-135M, whose head is a fifth of its weights).
    int64_t nll_stride = 4;
    PrefillProgressCallback on_progress;  // called after each chunk when set
};

struct GenerationOptions {
    int64_t max_tokens = 64;           // generated tokens at most
    SamplingOptions sampling;          // temperature 0 means greedy
};

enum class StopReason {
    eos,         // the model produced its end-of-sequence token
    eot,         // the model produced its end-of-turn token (<|im_end|>)
    max_tokens,  // GenerationOptions::max_tokens tokens were generated
};
const char* to_string(StopReason reason);

struct Answer {
    std::string text;
    int64_t n_question_tokens = 0;   // tokens of the question suffix prefilled after the document
    int64_t n_generated_tokens = 0;  // sampled tokens, the stop token included
    double prefill_s = 0;            // question prefill time
    double decode_s = 0;             // time spent generating
    StopReason stop_reason = StopReason::max_tokens;
};

class Engine;

// One prefilled document. Copying a session copies its KV cache and shares
// the scorer's state, so one prefill can serve a full and a compressed copy.
// A session refers to its Engine, which must outlive it.
class DocumentSession {
public:
    // Context tokens of the document prompt (system turn, user header, document).
    int64_t n_context_tokens() const { return n_context_tokens_; }
    // Prompt tokens before the document (BOS, system turn, user header).
    int64_t n_template_tokens() const { return n_template_tokens_; }
    // The document prompt's token ids (template, then document).
    const std::vector<int32_t>& prompt_tokens() const { return *prompt_tokens_; }
    double prefill_s() const { return prefill_s_; }
    // Mean next-token NLL of the document's tokens in nats per token, from
    // the prefill's logits at the positions DocumentOptions::nll_stride
    // selects; NaN when nll_stride was 0.
    double context_nll() const { return context_nll_; }
    // Document tokens that context_nll() averages over.
    int64_t n_nll_tokens() const { return n_nll_tokens_; }
    const KvCache& cache() const { return cache_; }
    const CompressionOptions& scoring_options() const { return scoring_options_; }
    bool compressed() const { return compressed_; }

    // Compact this session's cache. options.method and the scorer knobs must
    // equal those given to open_document (std::invalid_argument names the
    // first that differs); ratio, budget and head_floor may change freely.
    // Scores are computed on the first call and reused by later calls and by
    // copies, so report.score_s is the one-off scoring time. A session can be
    // compressed once; compress a copy of the full session for another ratio.
    CompressionReport compress(const CompressionOptions& options);

    // Choose the kept fraction for quality budget tau in (0, 1] from probes
    // of this document (see online_calibration.h). The session must be
    // uncompressed; `options` gives the method, budget and scorer knobs as
    // for compress(), and its ratio is ignored. The session stays unchanged;
    // compress a copy with the returned ratio. Throws std::invalid_argument
    // for a compressed session, a method other than the prefill's, tau
    // outside (0, 1], invalid probe options or a document too short to hold
    // the probes.
    OnlineCalibration calibrate_online(const CompressionOptions& options, double tau,
                                       const OnlineCalibrationOptions& probe_options) const;
    // The same for several budgets, results in the order of `taus`; each
    // kept fraction is measured once, whichever budgets' searches reach it.
    std::vector<OnlineCalibration> calibrate_online(const CompressionOptions& options,
                                                    std::span<const double> taus,
                                                    const OnlineCalibrationOptions& probe_options) const;

    // Generate an answer from a copy of the session's cache, which stays unchanged.
    // Throws std::invalid_argument when the question and max_tokens do not
    // fit in the model's context.
    Answer answer(std::string_view question, const GenerationOptions& options) const;

private:
    friend class Engine;
    struct ScoreState;
    DocumentSession() = default;

    // The scorer's scores of the full cache, finalized on first use and
    // shared by every copy; nullptr for method "none".
    const ScoreSet* full_scores() const;

    const Engine* engine_ = nullptr;
    KvCache cache_;
    std::shared_ptr<ScoreState> score_state_;
    CompressionOptions scoring_options_;
    int64_t n_context_tokens_ = 0;
    int64_t n_template_tokens_ = 0;
    std::shared_ptr<const std::vector<int32_t>> prompt_tokens_;
    double prefill_s_ = 0;
    double context_nll_ = 0;
    int64_t n_nll_tokens_ = 0;
    bool compressed_ = false;
};

class Engine {
public:
    // Load the GGUF model (weights in `weights` format), its tokenizer and
    // chat template. n_threads <= 0 uses all cores. Throws std::runtime_error
    // naming the path when the file is missing, and the loaders' errors for
    // malformed or unsupported files.
    Engine(const std::string& model_path, int n_threads, WeightFormat weights = WeightFormat::quantized);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Tokenize the document prompt and prefill it chunk by chunk with the
    // scorer observing. For kvzip the model then repeats the document on a
    // copy of the cache (run_second_pass), which took about twice the
    // prefill's time on the bundled 4,300-token document. Throws std::invalid_argument for an empty document
    // or one whose prompt plus answer_reserve exceeds the model's context.
    DocumentSession open_document(std::string_view document, const DocumentOptions& options) const;

    const Model& model() const { return *model_; }
    const ModelConfig& config() const { return model_->config(); }
    const Tokenizer& tokenizer() const { return *tokenizer_; }
    const ChatTemplate& chat_template() const { return chat_template_; }
    const std::string& model_path() const { return model_path_; }

private:
    std::string model_path_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    ChatTemplate chat_template_;
};

}  // namespace compactor
