#include "compress/kvzip_scorer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>

#include <cblas.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "compress/chunk_check.h"
#include "compress/scorer_registry.h"
#include "model/softmax.h"
#include "model/thread_pool.h"

namespace compactor {

namespace {

using Clock = std::chrono::steady_clock;

// One work item of a repetition chunk: queries [i0, i1) of one query head.
struct QueryTile {
    int head = 0;
    int64_t i0 = 0;
    int64_t i1 = 0;
};

// Inputs shared by every tile of one layer's repetition chunk.
struct TileInputs {
    const float* q;            // chunk queries after RoPE, [m × n_head × head_dim]
    const float* chunk_keys;   // chunk keys after RoPE, [m × n_head_kv × head_dim]
    const KvCache* copy;
    int il;
    int n_head;
    int n_head_kv;
    int head_dim;
    int64_t n_context;
};


// Computes the causal softmax of the tile's queries over every row of the
// copy and the chunk's keys up to each query. `column_max` [n_context]
// receives, per context key, the maximum probability over the tile's queries.
void score_tile(const TileInputs& in, const QueryTile& tile, std::vector<float>& logits,
                std::vector<float>& column_max) {
    const int d = in.head_dim;
    const int group = in.n_head / in.n_head_kv;
    const int h = tile.head / group;
    const std::span<const float> cached = in.copy->keys(in.il, h);
    const int64_t n_cached = in.copy->length(in.il, h);
    const int64_t n_queries = tile.i1 - tile.i0;
    const int64_t n_keys = n_cached + tile.i1;  // keys visible to the tile's last query
    const int q_stride = in.n_head * d;
    const int k_stride = in.n_head_kv * d;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    logits.resize(static_cast<size_t>(n_queries * n_keys));
    std::fill(column_max.begin(), column_max.end(), 0.0f);

    // logits [n_queries × n_keys]: the cached rows, then the chunk's own keys.
    const float* q = in.q + tile.i0 * q_stride + static_cast<int64_t>(tile.head) * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_queries), static_cast<int>(n_cached), d,
                scale, q, q_stride, cached.data(), d, 0.0f, logits.data(), static_cast<int>(n_keys));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_queries), static_cast<int>(tile.i1), d,
                scale, q, q_stride, in.chunk_keys + static_cast<int64_t>(h) * d, k_stride, 0.0f,
                logits.data() + n_cached, static_cast<int>(n_keys));

    // Per query: softmax over its visible keys, then the running maximum of
    // the context columns.
    for (int64_t r = 0; r < n_queries; ++r) {
        float* row = logits.data() + r * n_keys;
        softmax_in_place(row, n_cached + tile.i0 + r + 1);
        for (int64_t j = 0; j < in.n_context; ++j) {
            column_max[static_cast<size_t>(j)] = std::max(column_max[static_cast<size_t>(j)], row[j]);
        }
    }
}

}  // namespace

KvzipScorer::KvzipScorer(const CompressionOptions& options, const ModelShape& shape)
    : options_(options), shape_(shape) {
    validate(options);
    check_shape(shape, "KvzipScorer");
    n_seen_.assign(static_cast<size_t>(shape.n_layer), 0);
    n_repeated_.assign(static_cast<size_t>(shape.n_layer), 0);
}

void KvzipScorer::observe(const LayerChunk& chunk) {
    const bool layer_ok = chunk.il >= 0 && chunk.il < shape_.n_layer;
    check_chunk(chunk, shape_, layer_ok ? n_seen_[static_cast<size_t>(chunk.il)] : 0, "KvzipScorer");
    if (copy_ != nullptr) {
        throw std::logic_error(
            "KvzipScorer: the context prefill continued after the second pass began; prefill the whole context "
            "first");
    }
    n_seen_[static_cast<size_t>(chunk.il)] += chunk.n_tokens;
}

PrefillObserver* KvzipScorer::begin_second_pass(const KvCache& copy, int64_t n_context) {
    for (int il = 0; il < shape_.n_layer; ++il) {
        if (n_seen_[static_cast<size_t>(il)] != n_context) {
            throw std::invalid_argument(fmt::format(
                "KvzipScorer: the second pass starts after {} context tokens but layer {} observed {}; prefill "
                "the whole context with this scorer observing first",
                n_context, il, n_seen_[static_cast<size_t>(il)]));
        }
    }
    if (copy.n_layer() != shape_.n_layer || copy.n_head_kv() != shape_.n_head_kv ||
        copy.head_dim() != shape_.head_dim) {
        throw std::invalid_argument(fmt::format(
            "KvzipScorer: the second-pass cache has {} layers, {} KV heads, head_dim {}, expected {}, {}, {}",
            copy.n_layer(), copy.n_head_kv(), copy.head_dim(), shape_.n_layer, shape_.n_head_kv, shape_.head_dim));
    }
    for (int il = 0; il < shape_.n_layer; ++il) {
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            if (copy.length(il, h) != n_context) {
                throw std::invalid_argument(fmt::format(
                    "KvzipScorer: layer {} head {} of the second-pass cache contains {} rows, expected the {} "
                    "context rows; start from an uncompressed copy of the prefill's cache",
                    il, h, copy.length(il, h), n_context));
            }
        }
    }

    // The maxima carry over from earlier sequences of the same context.
    copy_ = &copy;
    n_context_ = n_context;
    n_repeated_.assign(static_cast<size_t>(shape_.n_layer), 0);
    if (max_attention_.empty()) {
        max_attention_.assign(
            static_cast<size_t>(shape_.n_layer),
            std::vector<float>(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_context), 0.0f));
    }
    return &repetition_observer_;
}

void KvzipScorer::observe_repetition(const LayerChunk& chunk) {
    const Clock::time_point start = Clock::now();
    const bool layer_ok = chunk.il >= 0 && chunk.il < shape_.n_layer;
    const size_t il = static_cast<size_t>(chunk.il);
    check_chunk(chunk, shape_, layer_ok ? n_context_ + n_repeated_[il] : 0, "KvzipScorer (second pass)");
    if (chunk.n_tokens == 0) return;
    if (chunk.q_rope == nullptr || chunk.k_rope == nullptr) {
        throw std::invalid_argument(fmt::format(
            "KvzipScorer: repetition chunk of layer {} has no post-RoPE queries or keys (q_rope, k_rope)", chunk.il));
    }
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        if (copy_->length(chunk.il, h) != chunk.pos0) {
            throw std::logic_error(fmt::format(
                "KvzipScorer: layer {} head {} of the second-pass cache contains {} rows when the chunk at "
                "position {} arrives; the observer must see each chunk before its keys are appended",
                chunk.il, h, copy_->length(chunk.il, h), chunk.pos0));
        }
    }

    // Work items: every query head × tile of queries; each writes its own
    // maxima, so threads share nothing.
    std::vector<QueryTile> tiles;
    for (int head = 0; head < shape_.n_head; ++head) {
        for (int64_t i0 = 0; i0 < chunk.n_tokens; i0 += kQueryTile) {
            tiles.push_back({head, i0, std::min(i0 + kQueryTile, chunk.n_tokens)});
        }
    }
    const TileInputs inputs{chunk.q_rope, chunk.k_rope,      copy_,     chunk.il,
                            shape_.n_head, shape_.n_head_kv, shape_.head_dim, n_context_};
    const size_t n_context = static_cast<size_t>(n_context_);
    std::vector<float> tile_max(tiles.size() * n_context);
    auto run_tile = [&](int64_t i) {
        thread_local std::vector<float> logits;
        thread_local std::vector<float> column_max;
        column_max.resize(n_context);
        score_tile(inputs, tiles[static_cast<size_t>(i)], logits, column_max);
        std::copy(column_max.begin(), column_max.end(), tile_max.begin() + static_cast<std::ptrdiff_t>(i * n_context));
    };
    if (chunk.pool != nullptr) {
        chunk.pool->parallel_for(static_cast<int64_t>(tiles.size()), run_tile);
    } else {
        for (size_t i = 0; i < tiles.size(); ++i) run_tile(static_cast<int64_t>(i));
    }

    // The maximum is exact in any order, so the result does not depend on the thread count.
    const int group = shape_.n_head / shape_.n_head_kv;
    std::vector<float>& layer = max_attention_[il];
    for (size_t i = 0; i < tiles.size(); ++i) {
        float* out = layer.data() + static_cast<size_t>(tiles[i].head / group) * n_context;
        const float* in = tile_max.data() + i * n_context;
        for (size_t t = 0; t < n_context; ++t) out[t] = std::max(out[t], in[t]);
    }
    n_repeated_[il] += chunk.n_tokens;
    scoring_s_ += std::chrono::duration<double>(Clock::now() - start).count();
}

ScoreSet KvzipScorer::finalize(const KvCache& cache) {
    if (copy_ == nullptr) {
        throw std::logic_error(
            "KvzipScorer: finalize before any second pass; run the repetition (run_second_pass) after the "
            "context prefill");
    }
    for (int il = 0; il < shape_.n_layer; ++il) {
        if (n_repeated_[static_cast<size_t>(il)] == 0 || n_repeated_[static_cast<size_t>(il)] != n_repeated_[0]) {
            throw std::logic_error(fmt::format(
                "KvzipScorer: the second pass reached {} tokens in layer {} and {} in layer 0; finalize after it "
                "has run through every layer",
                n_repeated_[static_cast<size_t>(il)], il, n_repeated_[0]));
        }
    }
    if (cache.n_layer() != shape_.n_layer || cache.n_head_kv() != shape_.n_head_kv || cache.max_length() != n_context_ ||
        cache.total_rows() != static_cast<int64_t>(shape_.n_layer) * shape_.n_head_kv * n_context_) {
        throw std::invalid_argument(fmt::format(
            "KvzipScorer: finalize expects the prefill's uncompressed cache of {} context rows per head, got one "
            "of {} rows at most per head",
            n_context_, cache.max_length()));
    }

    spdlog::info("kvzip: scoring the repetition's attention took {:.2f} s of the second pass", scoring_s_);
    ScoreSet out;
    out.n_tokens = n_context_;
    out.scores = max_attention_;
    return out;
}

std::unique_ptr<Scorer> make_kvzip_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<KvzipScorer>(options, shape);
}

}  // namespace compactor
