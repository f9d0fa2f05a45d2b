#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>

#include "model/attention_decode.h"
#include "model/softmax.h"

namespace compactor {

namespace {

// Queries per work item: small enough to spread over threads, large enough
// for efficient BLAS calls.
constexpr int64_t kQueryBlock = 64;

// Softmax of row[0 .. n_visible) in place, zeroing row[n_visible .. n_cols).
// Subtracting the row maximum keeps exp() from overflowing.
void causal_softmax_row(float* row, int64_t n_visible, int64_t n_cols) {
    softmax_in_place(row, n_visible);
    std::fill(row + n_visible, row + n_cols, 0.0f);
}

// One head's view of the chunk: queries i0 .. i1 − 1 of query head hq over
// the rows of its KV head.
struct HeadBlock {
    const float* q;       // first query of the block; rows are row_stride apart
    float* out;           // first output row of the block; rows are row_stride apart
    const float* keys;    // [length × head_dim]
    const float* values;  // [length × head_dim]
    int64_t n_old;        // rows before the chunk's own
    int64_t i0, i1;
};

void attend_block(const HeadBlock& b, int head_dim, blasint row_stride, float scale,
                  std::vector<float>& scores) {
    // Only rows up to the block's last query are visible to any query in it
    const int64_t n_queries = b.i1 - b.i0;
    const int64_t n_keys = b.n_old + b.i1;
    const auto ldk = static_cast<blasint>(n_keys);
    scores.resize(static_cast<size_t>(n_queries * n_keys));

    // Scores: [n_queries × n_keys] = q · Kᵀ · scale
    if (n_queries == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, ldk, head_dim, scale, b.keys, head_dim, b.q, 1, 0.0f,
                    scores.data(), 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n_queries), ldk, head_dim,
                    scale, b.q, row_stride, b.keys, head_dim, 0.0f, scores.data(), ldk);
    }

    // Causal softmax: query i attends to the old rows and the chunk's rows up to itself
    for (int64_t r = 0; r < n_queries; ++r) {
        causal_softmax_row(scores.data() + r * n_keys, b.n_old + b.i0 + r + 1, n_keys);
    }

    // Output: [n_queries × head_dim] = probabilities · V
    if (n_queries == 1) {
        cblas_sgemv(CblasRowMajor, CblasTrans, ldk, head_dim, 1.0f, b.values, head_dim, scores.data(), 1,
                    0.0f, b.out, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(n_queries), head_dim,
                    ldk, 1.0f, scores.data(), ldk, b.values, head_dim, 0.0f, b.out, row_stride);
    }
}

}  // namespace

void attend_chunk(const float* q, int64_t n_tokens, int n_head, const KvCache& cache, int il,
                  float* out, ThreadPool& pool) {
    const int n_head_kv = cache.n_head_kv();
    const int head_dim = cache.head_dim();
    const int group = n_head / n_head_kv;
    const int64_t row_stride = static_cast<int64_t>(n_head) * head_dim;  // floats between tokens in q and out
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

    // Every head must hold the chunk's rows; checked here because pool tasks
    // must not throw.
    for (int h = 0; h < n_head_kv; ++h) {
        const int64_t length = cache.length(il, h);
        if (length < n_tokens) {
            throw std::logic_error(fmt::format(
                "attention: layer {} KV head {} has {} rows, fewer than the chunk's {} tokens",
                il, h, length, n_tokens));
        }
    }
    if (n_tokens == 1) {
        attend_one_token(q, n_head, cache, il, out, pool);
        return;
    }

    // Work items: every query head × block of queries
    std::vector<HeadBlock> blocks;
    for (int hq = 0; hq < n_head; ++hq) {
        const int h = hq / group;
        const int64_t length = cache.length(il, h);
        for (int64_t i0 = 0; i0 < n_tokens; i0 += kQueryBlock) {
            const int64_t offset = i0 * row_stride + static_cast<int64_t>(hq) * head_dim;
            blocks.push_back({q + offset, out + offset, cache.keys(il, h).data(), cache.values(il, h).data(),
                              length - n_tokens, i0, std::min(i0 + kQueryBlock, n_tokens)});
        }
    }

    pool.parallel_for(static_cast<int64_t>(blocks.size()), [&](int64_t i) {
        // Per thread, [queries × visible rows] of the current block. It is
        // kept between calls so decode does not allocate per token.
        thread_local std::vector<float> scores;
        attend_block(blocks[static_cast<size_t>(i)], head_dim, static_cast<blasint>(row_stride), scale, scores);
    });
}

}  // namespace compactor
