#include "model/model.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/forward_batch.h"
#include "model/forward_chunk.h"
#include "model/linear.h"
#include "model/quant_dot.h"
#include "model/thread_pool.h"
#include "model/threads.h"
#include "model/weights.h"

namespace compactor {

struct Model::Impl {
    std::unique_ptr<gguf::GgufFile> file;
    ModelConfig config;
    ModelWeights weights;
    int n_threads = 1;
    std::unique_ptr<ThreadPool> pool;  // n_threads threads, the caller's included
    BatchScratch batch_scratch;        // forward_batch()'s buffers, kept between decode steps
    std::mutex batch_mutex;            // guards batch_scratch, so concurrent callers take turns
};

namespace {

void check_tokens(std::span<const int32_t> tokens, int n_vocab) {
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            throw std::invalid_argument(fmt::format(
                "forward: token id {} at index {} is out of range for a vocabulary of {} tokens",
                tokens[i], i, n_vocab));
        }
    }
}

void check_cache(const KvCache& cache, const ModelConfig& c) {
    if (cache.n_layer() != c.n_layer || cache.n_head_kv() != c.n_head_kv || cache.head_dim() != c.head_dim) {
        throw std::invalid_argument(fmt::format(
            "forward: the KV cache has {} layers × {} KV heads × head_dim {}, but the model needs "
            "{} × {} × {}; create it with Model::make_cache()",
            cache.n_layer(), cache.n_head_kv(), cache.head_dim(), c.n_layer, c.n_head_kv, c.head_dim));
    }
}

// logits [n_rows × n_vocab] from normalized hidden states [n_rows × n_embd].
void project_logits(const ModelWeights& w, const float* hidden, int64_t n_rows,
                    float* logits, ThreadPool& pool) {
    linear(hidden, n_rows, w.output_head(), nullptr, logits, pool);
}

// Adds to `nll` the next-token NLL of the chunk's rows that it selects.
// Row i of the chunk is the token at position pos0 + i; its prediction is
// scored against tokens[i + 1] when that token is part of the call.
void add_next_token_nll(const ModelWeights& w, const ModelConfig& c, const float* hidden, int64_t n_chunk,
                        int64_t pos0, std::span<const int32_t> next_tokens, NextTokenNll& nll, ThreadPool& pool) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < n_chunk && i < static_cast<int64_t>(next_tokens.size()); ++i) {
        const int64_t pos = pos0 + i;
        if (pos % nll.stride == 0 && pos + 1 >= nll.first_target) rows.push_back(i);
    }
    if (rows.empty()) return;

    const auto n_rows = static_cast<int64_t>(rows.size());
    const auto n_embd = static_cast<size_t>(c.n_embd);
    std::vector<float> selected(static_cast<size_t>(n_rows) * n_embd);
    for (int64_t r = 0; r < n_rows; ++r) {
        const float* row = hidden + static_cast<size_t>(rows[static_cast<size_t>(r)]) * n_embd;
        std::copy(row, row + n_embd, selected.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r) * n_embd));
    }
    std::vector<float> logits(static_cast<size_t>(n_rows) * static_cast<size_t>(c.n_vocab));
    project_logits(w, selected.data(), n_rows, logits.data(), pool);

    for (int64_t r = 0; r < n_rows; ++r) {
        float* row_logits = logits.data() + static_cast<size_t>(r) * static_cast<size_t>(c.n_vocab);
        nll.nll_sum += token_nll_in_place(row_logits, c.n_vocab, next_tokens[static_cast<size_t>(rows[static_cast<size_t>(r)])]);
        ++nll.n_scored;
    }
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, int n_threads, WeightFormat format) {
    auto impl = std::make_unique<Impl>();
    impl->file = gguf::GgufFile::open(path);
    impl->config = read_config(*impl->file);
    impl->weights = load_weights(*impl->file, impl->config, format);
    impl->n_threads = resolve_thread_count(n_threads);
    impl->pool = std::make_unique<ThreadPool>(impl->n_threads);

    const ModelConfig& c = impl->config;
    spdlog::info(
        "model: loaded '{}' arch={} n_layer={} n_embd={} n_head={} n_head_kv={} head_dim={} n_ff={} "
        "n_vocab={} n_ctx_train={} rope_base={} tied_output={} weights={:.1f} MiB ({}) threads={}{}",
        c.name, c.arch, c.n_layer, c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.n_ff, c.n_vocab,
        c.n_ctx_train, c.rope_freq_base, c.tied_output,
        static_cast<double>(impl->weights.size_bytes()) / (1024.0 * 1024.0), to_string(format), impl->n_threads,
        format == WeightFormat::fp32
            ? std::string()
            : fmt::format(" kernels={}", quant::kernel_path_name(quant::active_kernel_path())));
    return std::unique_ptr<Model>(new Model(std::move(impl)));
}

const ModelConfig& Model::config() const { return impl_->config; }
const gguf::GgufFile& Model::file() const { return *impl_->file; }
WeightFormat Model::weight_format() const { return impl_->weights.format; }
size_t Model::weight_bytes() const { return impl_->weights.size_bytes(); }
int Model::n_threads() const { return impl_->n_threads; }

KvCache Model::make_cache(int64_t reserve_tokens) const {
    const ModelConfig& c = impl_->config;
    return KvCache(c.n_layer, c.n_head_kv, c.head_dim, reserve_tokens);
}

void Model::forward(std::span<const int32_t> tokens, KvCache& cache, const ForwardOptions& options,
                    std::vector<float>* logits) const {
    const ModelConfig& c = impl_->config;
    const auto n_tokens = static_cast<int64_t>(tokens.size());
    if (options.chunk_size <= 0) {
        throw std::invalid_argument(
            fmt::format("forward: chunk_size is {}, expected a positive token count", options.chunk_size));
    }
    check_tokens(tokens, c.n_vocab);
    check_cache(cache, c);
    if (n_tokens == 0) {
        if (logits != nullptr) logits->clear();
        return;
    }
    if (options.next_token_nll != nullptr && options.next_token_nll->stride < 1) {
        throw std::invalid_argument(fmt::format("forward: the next-token NLL stride is {}, expected >= 1",
                                                options.next_token_nll->stride));
    }

    // Only the pool runs in parallel here; see threads.h
    const SingleThreadedBlas single_threaded_blas;
    if (logits != nullptr) {
        logits->resize(static_cast<size_t>((options.all_logits ? n_tokens : 1) * c.n_vocab));
    }

    // Chunks of at most chunk_size tokens bound the activation memory.
    // Scratch buffers are allocated once per call (forward() is const and
    // may run concurrently on different caches) and reused by every chunk.
    ChunkScratch scratch;
    for (int64_t start = 0; start < n_tokens; start += options.chunk_size) {
        const int64_t n_chunk = std::min(options.chunk_size, n_tokens - start);
        const int64_t pos0 = cache.next_pos();
        forward_chunk(c, impl_->weights, tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(n_chunk)),
                      cache, options.observer, *impl_->pool, scratch);
        if (options.next_token_nll != nullptr) {
            add_next_token_nll(impl_->weights, c, scratch.xn.data(), n_chunk, pos0,
                               tokens.subspan(static_cast<size_t>(start + 1)), *options.next_token_nll,
                               *impl_->pool);
        }

        // Logits of this chunk's tokens, or only of the very last token
        if (logits == nullptr) continue;
        if (options.all_logits) {
            project_logits(impl_->weights, scratch.xn.data(), n_chunk, logits->data() + start * c.n_vocab,
                           *impl_->pool);
        } else if (start + n_chunk == n_tokens) {
            project_logits(impl_->weights, scratch.xn.data() + (n_chunk - 1) * c.n_embd, 1, logits->data(),
                           *impl_->pool);
        }
    }
}

void Model::forward_batch(std::span<const std::span<const int32_t>> tokens, std::span<KvCache* const> caches,
                          std::vector<float>* logits, std::span<const int64_t> n_logit_rows) const {
    const std::lock_guard lock(impl_->batch_mutex);
    const SingleThreadedBlas single_threaded_blas;
    compactor::forward_batch(impl_->config, impl_->weights, tokens, caches, *impl_->pool, impl_->batch_scratch,
                             logits, n_logit_rows);
}

}  // namespace compactor
