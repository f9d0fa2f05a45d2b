#include "compress/chunked_attention_scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <cblas.h>
#include <fmt/format.h>

#include "compress/chunk_check.h"
#include "compress/zscore.h"
#include "model/thread_pool.h"

namespace compactor {

namespace {

// Softmax of each row of logits [m × m] in place, then add its column sums
// to `columns` [m].
void add_softmax_column_sums(std::vector<float>& logits, int64_t m, std::vector<double>& columns) {
    const size_t n = static_cast<size_t>(m);
    std::vector<double> row_sums(n, 0.0);
    for (size_t i = 0; i < n; ++i) {
        float* row = logits.data() + i * n;
        const float max_logit = *std::max_element(row, row + n);
        double total = 0.0;
        for (size_t j = 0; j < n; ++j) {
            row[j] = std::exp(row[j] - max_logit);
            total += row[j];
        }
        const double inv = 1.0 / total;
        for (size_t j = 0; j < n; ++j) columns[j] += row[j] * inv;
    }
}

}  // namespace

std::vector<double> attention_column_sums_reference(const float* q, int64_t q_stride, const float* k,
                                                    int64_t k_stride, int64_t m, int head_dim) {
    std::vector<double> columns(static_cast<size_t>(m), 0.0);
    std::vector<double> logits(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
        double max_logit = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < m; ++j) {
            double dot = 0.0;
            for (int c = 0; c < head_dim; ++c) dot += static_cast<double>(q[i * q_stride + c]) * k[j * k_stride + c];
            logits[static_cast<size_t>(j)] = dot;
            max_logit = std::max(max_logit, dot);
        }
        double total = 0.0;
        for (double& x : logits) {
            x = std::exp(x - max_logit);
            total += x;
        }
        for (int64_t j = 0; j < m; ++j) columns[static_cast<size_t>(j)] += logits[static_cast<size_t>(j)] / total;
    }
    return columns;
}

ChunkedAttentionScorer::ChunkedAttentionScorer(const CompressionOptions& options, const ModelShape& shape)
    : options_(options), shape_(shape) {
    validate(options);
    check_shape(shape, "ChunkedAttentionScorer");
    pending_.resize(static_cast<size_t>(shape.n_layer));
    done_.assign(static_cast<size_t>(shape.n_layer),
                 std::vector<std::vector<float>>(static_cast<size_t>(shape.n_head_kv)));
    n_seen_.assign(static_cast<size_t>(shape.n_layer), 0);
}

void ChunkedAttentionScorer::observe(const LayerChunk& chunk) {
    const bool layer_ok = chunk.il >= 0 && chunk.il < shape_.n_layer;
    check_chunk(chunk, shape_, layer_ok ? n_seen_[static_cast<size_t>(chunk.il)] : 0, "ChunkedAttentionScorer");
    pool_ = chunk.pool;
    const size_t il = static_cast<size_t>(chunk.il);
    Pending& pending = pending_[il];
    const size_t d = static_cast<size_t>(shape_.head_dim);
    const size_t q_width = static_cast<size_t>(shape_.n_head) * d;
    const size_t kv_width = static_cast<size_t>(shape_.n_head_kv) * d;

    // Buffer the tokens past the sink, with the norms of their values.
    const int64_t t_first = std::max<int64_t>(chunk.pos0, options_.sink);
    const int64_t t_end = chunk.pos0 + chunk.n_tokens;
    if (pending.v_norm.empty()) pending.pos0 = std::max<int64_t>(t_first, pending.pos0);
    for (int64_t t = t_first; t < t_end; ++t) {
        const size_t row = static_cast<size_t>(t - chunk.pos0);
        pending.q.insert(pending.q.end(), chunk.q_rope + row * q_width, chunk.q_rope + (row + 1) * q_width);
        pending.k.insert(pending.k.end(), chunk.k_rope + row * kv_width, chunk.k_rope + (row + 1) * kv_width);
        for (int h = 0; h < shape_.n_head_kv; ++h) {
            const float* v = chunk.v + row * kv_width + static_cast<size_t>(h) * d;
            double norm2 = 0.0;
            for (size_t c = 0; c < d; ++c) norm2 += static_cast<double>(v[c]) * v[c];
            pending.v_norm.push_back(static_cast<float>(std::sqrt(norm2)));
        }
    }
    n_seen_[il] = t_end;

    // Score every chunk that cannot contain a recent token.
    const int64_t chunk_len = options_.attn_chunk;
    while (pending.size(shape_.n_head_kv) >= chunk_len + options_.recent) {
        score_chunk(pending, chunk_len, done_[il], chunk.pool);
        drop_front(pending, chunk_len);
    }
}

void ChunkedAttentionScorer::score_chunk(const Pending& pending, int64_t m,
                                         std::vector<std::vector<float>>& columns, ThreadPool* pool) const {
    const int d = shape_.head_dim;
    const int n_group = shape_.n_head / shape_.n_head_kv;
    const int q_stride = shape_.n_head * d;
    const int k_stride = shape_.n_head_kv * d;

    // Column sums per query head [n_head][m]; each head is an independent task.
    std::vector<std::vector<double>> sums(static_cast<size_t>(shape_.n_head));
    auto score_query_head = [&](int64_t hq) {
        const int64_t h = hq / n_group;
        std::vector<float> logits(static_cast<size_t>(m) * static_cast<size_t>(m));
        std::vector<double>& head_sums = sums[static_cast<size_t>(hq)];
        head_sums.assign(static_cast<size_t>(m), 0.0);

        // logits [m × m] = Q_hq [m × d] K_hᵀ [d × m], unscaled.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(m), d, 1.0f,
                    pending.q.data() + static_cast<size_t>(hq) * d, q_stride,
                    pending.k.data() + static_cast<size_t>(h) * d, k_stride, 0.0f, logits.data(),
                    static_cast<int>(m));
        add_softmax_column_sums(logits, m, head_sums);
    };
    if (pool != nullptr) {
        pool->parallel_for(shape_.n_head, score_query_head);
    } else {
        for (int hq = 0; hq < shape_.n_head; ++hq) score_query_head(hq);
    }

    // Average over each KV head's group in a fixed order, so results do not
    // depend on the thread count.
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        std::vector<float>& out = columns[static_cast<size_t>(h)];
        for (int64_t t = 0; t < m; ++t) {
            double total = 0.0;
            for (int g = 0; g < n_group; ++g) total += sums[static_cast<size_t>(h * n_group + g)][static_cast<size_t>(t)];
            double score = total / n_group;
            if (options_.value_weighting) score *= pending.v_norm[static_cast<size_t>(t * shape_.n_head_kv + h)];
            out.push_back(static_cast<float>(score));
        }
    }
}

void ChunkedAttentionScorer::drop_front(Pending& pending, int64_t m) const {
    const size_t rows = static_cast<size_t>(m);
    const size_t d = static_cast<size_t>(shape_.head_dim);
    pending.q.erase(pending.q.begin(), pending.q.begin() + static_cast<std::ptrdiff_t>(rows * shape_.n_head * d));
    pending.k.erase(pending.k.begin(), pending.k.begin() + static_cast<std::ptrdiff_t>(rows * shape_.n_head_kv * d));
    pending.v_norm.erase(pending.v_norm.begin(),
                         pending.v_norm.begin() + static_cast<std::ptrdiff_t>(rows * shape_.n_head_kv));
    pending.pos0 += m;
}

ScoreSet ChunkedAttentionScorer::finalize() {
    const int64_t n_tokens = n_seen_.empty() ? 0 : n_seen_[0];
    const ScoredRange range = scored_range(n_tokens, options_.sink, options_.recent);
    const int n_head_kv = shape_.n_head_kv;

    raw_.n_tokens = n_tokens;
    raw_.scores.assign(static_cast<size_t>(shape_.n_layer), {});
    ScoreSet z;
    z.n_tokens = n_tokens;
    z.scores.resize(static_cast<size_t>(shape_.n_layer));

    for (int il = 0; il < shape_.n_layer; ++il) {
        if (n_seen_[static_cast<size_t>(il)] != n_tokens) {
            throw std::runtime_error(fmt::format(
                "ChunkedAttentionScorer: layer {} observed {} tokens but layer 0 observed {}; "
                "finalize after whole chunks",
                il, n_seen_[static_cast<size_t>(il)], n_tokens));
        }

        // Score the scored tokens still pending, in full chunks and a short
        // last one, on copies so that finalize() can run again.
        Pending pending = pending_[static_cast<size_t>(il)];
        std::vector<std::vector<float>> columns = done_[static_cast<size_t>(il)];
        int64_t left = std::max<int64_t>(0, range.end - std::max(pending.pos0, range.begin));
        if (pending.v_norm.empty()) left = 0;
        while (left > 0) {
            const int64_t m = std::min<int64_t>(left, options_.attn_chunk);
            score_chunk(pending, m, columns, pool_);
            drop_front(pending, m);
            left -= m;
        }

        // Width-3 moving average over the scored tokens.
        std::vector<float>& layer = raw_.scores[static_cast<size_t>(il)];
        layer.assign(static_cast<size_t>(n_head_kv) * static_cast<size_t>(n_tokens), 0.0f);
        for (int h = 0; h < n_head_kv; ++h) {
            const std::vector<float>& col = columns[static_cast<size_t>(h)];
            const int64_t n_scored = range.size();
            if (static_cast<int64_t>(col.size()) != n_scored) {
                throw std::logic_error(
                    fmt::format("ChunkedAttentionScorer: layer {} head {} scored {} tokens, expected {}", il, h,
                                col.size(), n_scored));
            }
            for (int64_t i = 0; i < n_scored; ++i) {
                const double prev = i > 0 ? col[static_cast<size_t>(i - 1)] : 0.0;
                const double next = i + 1 < n_scored ? col[static_cast<size_t>(i + 1)] : 0.0;
                layer[static_cast<size_t>(h * n_tokens + range.begin + i)] =
                    static_cast<float>((prev + col[static_cast<size_t>(i)] + next) / 3.0);
            }
        }
        z.scores[static_cast<size_t>(il)] = layer;
        zscore_layer(z.scores[static_cast<size_t>(il)], n_head_kv, n_tokens, range);
    }
    return z;
}

}  // namespace compactor
