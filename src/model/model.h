// A llama-family transformer loaded from GGUF, run on the CPU.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/prefill_observer.h"
#include "model/token_nll.h"
#include "model/weight_matrix.h"

namespace compactor {

struct ForwardOptions {
    int64_t chunk_size = 512;             // tokens per prefill chunk (bounds activation memory)
    PrefillObserver* observer = nullptr;  // observes every layer of every chunk when set
    bool all_logits = false;              // logits for every token instead of the last only
    // When set, accumulates the NLL of each token of the call predicted from
    // the one before it, at the positions it selects.
    NextTokenNll* next_token_nll = nullptr;
};

class Model {
public:
    // Map the GGUF file, read the config and load the weights in `format`.
    // n_threads <= 0 means all cores. Throws gguf::GgufError or
    // std::runtime_error with a message naming what is wrong (unsupported
    // architecture, missing tensor, a COMPACTOR_KERNEL this CPU cannot run).
    static std::unique_ptr<Model> load(const std::string& path, int n_threads = 0,
                                       WeightFormat format = WeightFormat::quantized);

    ~Model();

    const ModelConfig& config() const;
    const gguf::GgufFile& file() const;
    int n_threads() const;
    WeightFormat weight_format() const;
    // Bytes the weights occupy in memory (see ModelWeights::size_bytes).
    size_t weight_bytes() const;

    // An empty cache shaped for this model.
    KvCache make_cache(int64_t reserve_tokens = 0) const;

    // Run `tokens` at positions cache.next_pos() onwards, appending their keys
    // and values to `cache`. When `logits` is non-null it receives the output
    // logits, [n_vocab] for the last token or [n_tokens × n_vocab] with
    // options.all_logits. Throws std::invalid_argument for an out-of-range
    // token id, a cache of another shape or a chunk_size <= 0. Any context
    // length is accepted; limiting it to n_ctx_train is the caller's choice.
    void forward(std::span<const int32_t> tokens, KvCache& cache, const ForwardOptions& options,
                 std::vector<float>* logits) const;

    // One step for several independent sequences at once: sequence i runs
    // tokens[i] (at least one token) at positions caches[i]->next_pos()
    // onwards and appends to its own cache. The projections and the MLP run
    // on the rows of all sequences together, so the weights are read once
    // per step for the whole batch; attention runs per sequence on its own
    // (possibly compressed) cache. When `logits` is non-null it receives
    // [n_seq × n_vocab], the last token's logits of each sequence, or with
    // n_logit_rows the logits of each sequence's last n_logit_rows[i]
    // tokens, sequence after sequence (teacher forcing). Results
    // equal those of forward() per sequence up to summation order. Throws
    // std::invalid_argument as forward() does, naming the sequence, and for
    // two sequences on one cache; no cache changes then. The model keeps one
    // set of batch buffers, so concurrent calls run one after another.
    void forward_batch(std::span<const std::span<const int32_t>> tokens, std::span<KvCache* const> caches,
                       std::vector<float>* logits, std::span<const int64_t> n_logit_rows = {}) const;

private:
    struct Impl;
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace compactor
