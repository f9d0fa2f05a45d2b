#include "compress/expected_attention_scorer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <cblas.h>
#include <fmt/format.h>

#include "compress/chunk_check.h"
#include "compress/scored_range.h"
#include "compress/scorer_registry.h"
#include "model/rope.h"
#include "model/thread_pool.h"
#include "model/threads.h"

namespace compactor {

namespace {

int rotated_dims(const ModelShape& shape) { return shape.n_rot > 0 ? shape.n_rot : shape.head_dim; }

// Indices of the two dimensions of rotated pair i.
struct PairIndex {
    size_t a;
    size_t b;
};
PairIndex pair_index(const ModelShape& shape, int i) {
    if (shape.rope_mode == RopeMode::normal) return {static_cast<size_t>(2 * i), static_cast<size_t>(2 * i + 1)};
    return {static_cast<size_t>(i), static_cast<size_t>(i + rotated_dims(shape) / 2)};
}

// x ← R x for one vector of head_dim entries read with stride `stride`.
void rotate_vector(const ModelShape& shape, const AverageRotation& rotation, double* x, size_t stride) {
    const int n_pairs = static_cast<int>(rotation.cos.size());
    for (int i = 0; i < n_pairs; ++i) {
        const PairIndex p = pair_index(shape, i);
        const double c = rotation.cos[static_cast<size_t>(i)];
        const double s = rotation.sin[static_cast<size_t>(i)];
        const double x0 = x[p.a * stride];
        const double x1 = x[p.b * stride];
        x[p.a * stride] = c * x0 - s * x1;
        x[p.b * stride] = s * x0 + c * x1;
    }
}

// Σ k[c]·(a[c] + b[c]) over c < n, in 16 float lanes so that it vectorizes
// without fast-math, summed in double at the end.
double dot_plus(const float* k, const float* a, const float* b, size_t n) {
    constexpr size_t kLanes = 16;
    float lanes[kLanes] = {};
    size_t c = 0;
    for (; c + kLanes <= n; c += kLanes) {
        for (size_t l = 0; l < kLanes; ++l) lanes[l] += k[c + l] * (a[c + l] + b[c + l]);
    }
    double total = 0.0;
    for (float lane : lanes) total += lane;
    for (; c < n; ++c) total += static_cast<double>(k[c]) * (a[c] + b[c]);
    return total;
}

// ‖x‖² over n entries, in 16 float lanes like dot_plus.
double squared_norm(const float* x, size_t n) {
    constexpr size_t kLanes = 16;
    float lanes[kLanes] = {};
    size_t c = 0;
    for (; c + kLanes <= n; c += kLanes) {
        for (size_t l = 0; l < kLanes; ++l) lanes[l] += x[c + l] * x[c + l];
    }
    double total = 0.0;
    for (float lane : lanes) total += lane;
    for (; c < n; ++c) total += static_cast<double>(x[c]) * x[c];
    return total;
}

void check_cache(const KvCache& cache, const ModelShape& shape, int64_t n_tokens) {
    if (cache.n_layer() != shape.n_layer || cache.n_head_kv() != shape.n_head_kv ||
        cache.head_dim() != shape.head_dim) {
        throw std::invalid_argument(fmt::format(
            "ExpectedAttentionScorer: cache has {} layers, {} KV heads, head_dim {}, expected {}, {}, {} "
            "as the scorer was built for",
            cache.n_layer(), cache.n_head_kv(), cache.head_dim(), shape.n_layer, shape.n_head_kv, shape.head_dim));
    }
    for (int il = 0; il < cache.n_layer(); ++il) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            if (cache.length(il, h) != n_tokens) {
                throw std::invalid_argument(fmt::format(
                    "ExpectedAttentionScorer: layer {} head {} of the cache contains {} rows but {} tokens were "
                    "observed; finalize with the uncompressed cache of the prefill",
                    il, h, cache.length(il, h), n_tokens));
            }
        }
    }
}

}  // namespace

AverageRotation average_rope_rotation(const ModelShape& shape, int64_t pos0, int n_positions) {
    const int n_rot = rotated_dims(shape);
    const auto n_pairs = static_cast<size_t>(n_rot / 2);
    AverageRotation rotation;
    rotation.cos.assign(n_pairs, 0.0);
    rotation.sin.assign(n_pairs, 0.0);

    // The model's own RoPE tables, a block of positions at a time so that a
    // large n_positions needs little memory.
    constexpr int64_t kBlock = 1024;
    for (int64_t start = 0; start < n_positions; start += kBlock) {
        const int64_t count = std::min<int64_t>(kBlock, n_positions - start);
        const RopeTable table =
            make_rope_table(pos0 + start, count, n_rot, shape.rope_freq_base, shape.rope_freq_divisors);
        for (int64_t t = 0; t < count; ++t) {
            for (size_t i = 0; i < n_pairs; ++i) {
                rotation.cos[i] += table.cos[static_cast<size_t>(t) * n_pairs + i];
                rotation.sin[i] += table.sin[static_cast<size_t>(t) * n_pairs + i];
            }
        }
    }
    for (size_t i = 0; i < n_pairs; ++i) {
        rotation.cos[i] /= n_positions;
        rotation.sin[i] /= n_positions;
    }
    return rotation;
}

void rotate_query_statistics(const ModelShape& shape, const AverageRotation& rotation, std::vector<double>& mean,
                             std::vector<double>& covariance) {
    const size_t d = static_cast<size_t>(shape.head_dim);
    if (mean.size() != d || (!covariance.empty() && covariance.size() != d * d) ||
        rotation.cos.size() != static_cast<size_t>(rotated_dims(shape) / 2)) {
        throw std::invalid_argument(fmt::format(
            "rotate_query_statistics: mean has {} entries, covariance {}, rotation {} pairs; expected head_dim {}, "
            "head_dim² {} (or none) and n_rot / 2 {}",
            mean.size(), covariance.size(), rotation.cos.size(), d, d * d, rotated_dims(shape) / 2));
    }
    rotate_vector(shape, rotation, mean.data(), 1);
    if (covariance.empty()) return;

    // Σ Rᵀ rotates every row, then R (Σ Rᵀ) rotates every column.
    for (size_t r = 0; r < d; ++r) rotate_vector(shape, rotation, covariance.data() + r * d, 1);
    for (size_t c = 0; c < d; ++c) rotate_vector(shape, rotation, covariance.data() + c, d);
}

ExpectedAttentionScorer::ExpectedAttentionScorer(const CompressionOptions& options, const ModelShape& shape)
    : options_(options), shape_(shape) {
    validate(options);
    check_shape(shape, "ExpectedAttentionScorer");
    const int n_rot = rotated_dims(shape);
    if (n_rot % 2 != 0 || n_rot > shape.head_dim) {
        throw std::invalid_argument(fmt::format(
            "ExpectedAttentionScorer: n_rot {} is invalid for head_dim {}; RoPE rotates an even number of "
            "dimensions, at most head_dim",
            n_rot, shape.head_dim));
    }
    if (!shape.rope_freq_divisors.empty() && static_cast<int>(shape.rope_freq_divisors.size()) != n_rot / 2) {
        throw std::invalid_argument(fmt::format(
            "ExpectedAttentionScorer: {} RoPE frequency divisors given, expected n_rot / 2 = {} or none",
            shape.rope_freq_divisors.size(), n_rot / 2));
    }

    const size_t d = static_cast<size_t>(shape.head_dim);
    sums_.resize(static_cast<size_t>(shape.n_layer) * static_cast<size_t>(shape.n_head));
    for (HeadSums& s : sums_) {
        s.sum.assign(d, 0.0);
        s.gram.assign(d * d, 0.0);
    }
    n_seen_.assign(static_cast<size_t>(shape.n_layer), 0);
    n_queries_.assign(static_cast<size_t>(shape.n_layer), 0);
}

void ExpectedAttentionScorer::observe(const LayerChunk& chunk) {
    const bool layer_ok = chunk.il >= 0 && chunk.il < shape_.n_layer;
    check_chunk(chunk, shape_, layer_ok ? n_seen_[static_cast<size_t>(chunk.il)] : 0, "ExpectedAttentionScorer");
    if (chunk.n_tokens > 0 && chunk.q_raw == nullptr) {
        throw std::invalid_argument(fmt::format(
            "ExpectedAttentionScorer: chunk of layer {} has no pre-RoPE queries (q_raw)", chunk.il));
    }
    const size_t il = static_cast<size_t>(chunk.il);

    // Queries of the sink are left out, as kvpress leaves out its first n_sink hidden states.
    const int64_t row0 = std::clamp<int64_t>(options_.sink - chunk.pos0, 0, chunk.n_tokens);
    if (row0 < chunk.n_tokens) {
        auto accumulate_head = [&](int64_t head) { accumulate(chunk, static_cast<int>(head), row0); };
        if (chunk.pool != nullptr) {
            chunk.pool->parallel_for(shape_.n_head, accumulate_head);
        } else {
            for (int head = 0; head < shape_.n_head; ++head) accumulate_head(head);
        }
    }
    n_seen_[il] += chunk.n_tokens;
    n_queries_[il] += chunk.n_tokens - row0;
}

void ExpectedAttentionScorer::accumulate(const LayerChunk& chunk, int head, int64_t row0) {
    const size_t d = static_cast<size_t>(shape_.head_dim);
    const size_t q_width = static_cast<size_t>(shape_.n_head) * d;
    const size_t m = static_cast<size_t>(chunk.n_tokens - row0);
    HeadSums& s = sums(chunk.il, head);
    auto query = [&](size_t r) { return chunk.q_raw + (static_cast<size_t>(row0) + r) * q_width + static_cast<size_t>(head) * d; };

    // The first chunk's mean becomes the shift c.
    if (s.shift.empty()) {
        std::vector<double> mean(d, 0.0);
        for (size_t r = 0; r < m; ++r) {
            for (size_t c = 0; c < d; ++c) mean[c] += query(r)[c];
        }
        s.shift.resize(d);
        for (size_t c = 0; c < d; ++c) s.shift[c] = static_cast<float>(mean[c] / static_cast<double>(m));
    }

    // Shifted rows q − c.
    thread_local std::vector<float> rows;
    thread_local std::vector<float> chunk_gram;
    rows.resize(m * d);
    for (size_t r = 0; r < m; ++r) {
        const float* q = query(r);
        for (size_t c = 0; c < d; ++c) {
            rows[r * d + c] = q[c] - s.shift[c];
            s.sum[c] += rows[r * d + c];
        }
    }

    // This chunk's Σ (q − c)(q − c)ᵀ [d × d], lower triangle, then into the double total.
    chunk_gram.assign(d * d, 0.0f);
    cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, static_cast<int>(d), static_cast<int>(m), 1.0f, rows.data(),
                static_cast<int>(d), 0.0f, chunk_gram.data(), static_cast<int>(d));
    for (size_t i = 0; i < d; ++i) {
        for (size_t j = 0; j <= i; ++j) s.gram[i * d + j] += chunk_gram[i * d + j];
    }
}

ExpectedAttentionScorer::QueryStatistics ExpectedAttentionScorer::query_statistics(int il, int head) const {
    if (il < 0 || il >= shape_.n_layer || head < 0 || head >= shape_.n_head) {
        throw std::invalid_argument(fmt::format(
            "ExpectedAttentionScorer: no query head ({}, {}) in a model of {} layers and {} query heads", il, head,
            shape_.n_layer, shape_.n_head));
    }
    QueryStatistics stats;
    stats.n_queries = n_queries_[static_cast<size_t>(il)];
    if (stats.n_queries == 0) return stats;

    const size_t d = static_cast<size_t>(shape_.head_dim);
    const HeadSums& s = sums(il, head);
    const auto m = static_cast<double>(stats.n_queries);
    std::vector<double> shifted_mean(d);  // μ − c
    stats.mean.resize(d);
    for (size_t c = 0; c < d; ++c) {
        shifted_mean[c] = s.sum[c] / m;
        stats.mean[c] = shifted_mean[c] + s.shift[c];
    }

    // Population covariance, mirrored from the lower triangle.
    stats.covariance.resize(d * d);
    for (size_t i = 0; i < d; ++i) {
        for (size_t j = 0; j <= i; ++j) {
            const double value = s.gram[i * d + j] / m - shifted_mean[i] * shifted_mean[j];
            stats.covariance[i * d + j] = value;
            stats.covariance[j * d + i] = value;
        }
    }
    return stats;
}

std::vector<float> ExpectedAttentionScorer::score_layer(const KvCache& cache, int il, int64_t n_tokens,
                                                       const AverageRotation& rotation) const {
    const int d = shape_.head_dim;
    const size_t du = static_cast<size_t>(d);
    const int n_group = shape_.n_head / shape_.n_head_kv;
    const int64_t first = std::min<int64_t>(options_.sink, n_tokens);
    const int64_t n_keys = n_tokens - first;
    std::vector<float> layer(static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(n_tokens), 0.0f);
    if (n_keys == 0 || n_queries_[static_cast<size_t>(il)] == 0) return layer;

    const ScoredRange range = scored_range(n_tokens, options_.sink, options_.recent);
    const double inv_sqrt_d = 1.0 / std::sqrt(static_cast<double>(d));
    const int b_width = n_group * d;
    std::vector<float> b(du * static_cast<size_t>(b_width));           // [d × n_group·d]  Σ'_g / (2d) side by side
    std::vector<float> mu(static_cast<size_t>(b_width));                // [n_group × d]    μ'_g / √d
    std::vector<float> key_cov(static_cast<size_t>(n_keys) * static_cast<size_t>(b_width));
    std::vector<double> logits(static_cast<size_t>(n_keys));
    std::vector<double> mean_prob(static_cast<size_t>(n_keys));

    for (int h = 0; h < shape_.n_head_kv; ++h) {
        // Rotated statistics of the group's query heads, scaled for the logit.
        for (int g = 0; g < n_group; ++g) {
            QueryStatistics stats = query_statistics(il, h * n_group + g);
            rotate_query_statistics(shape_, rotation, stats.mean, stats.covariance);
            for (size_t i = 0; i < du; ++i) {
                mu[static_cast<size_t>(g) * du + i] = static_cast<float>(stats.mean[i] * inv_sqrt_d);
                for (size_t j = 0; j < du; ++j) {
                    b[i * static_cast<size_t>(b_width) + static_cast<size_t>(g) * du + j] =
                        static_cast<float>(stats.covariance[i * du + j] / (2.0 * d));
                }
            }
        }

        // key_cov [n_keys × n_group·d] = K [n_keys × d] · B: the row k Σ'_g / (2d) of every key and query head.
        const float* keys = cache.keys(il, h).data() + static_cast<size_t>(first) * du;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n_keys), b_width, d, 1.0f, keys, d,
                    b.data(), b_width, 0.0f, key_cov.data(), b_width);

        // Per query head: logit k·(μ'/√d + Σ'k/(2d)), softmax over the keys, then the group mean.
        std::fill(mean_prob.begin(), mean_prob.end(), 0.0);
        for (int g = 0; g < n_group; ++g) {
            const float* mu_g = mu.data() + static_cast<size_t>(g) * du;
            double max_logit = -HUGE_VAL;
            for (int64_t t = 0; t < n_keys; ++t) {
                const float* kc = key_cov.data() + static_cast<size_t>(t) * static_cast<size_t>(b_width) +
                                  static_cast<size_t>(g) * du;
                const double logit = dot_plus(keys + static_cast<size_t>(t) * du, mu_g, kc, du);
                logits[static_cast<size_t>(t)] = logit;
                max_logit = std::max(max_logit, logit);
            }
            double total = 0.0;
            for (double& x : logits) {
                x = std::exp(x - max_logit);
                total += x;
            }
            for (size_t t = 0; t < logits.size(); ++t) mean_prob[t] += logits[t] / total;
        }

        // Group mean, value weighting; protected tokens stay 0.
        const float* values = cache.values(il, h).data();
        float* out = layer.data() + static_cast<size_t>(h) * static_cast<size_t>(n_tokens);
        for (int64_t t = range.begin; t < range.end; ++t) {
            double score = mean_prob[static_cast<size_t>(t - first)] / n_group;
            if (options_.value_weighting) {
                score = (score + options_.epsilon) * std::sqrt(squared_norm(values + static_cast<size_t>(t) * du, du));
            }
            out[t] = static_cast<float>(score);
        }
    }
    return layer;
}

ScoreSet ExpectedAttentionScorer::finalize(const KvCache& cache) {
    const int64_t n_tokens = n_seen_[0];
    for (int il = 0; il < shape_.n_layer; ++il) {
        if (n_seen_[static_cast<size_t>(il)] != n_tokens) {
            throw std::runtime_error(fmt::format(
                "ExpectedAttentionScorer: layer {} observed {} tokens but layer 0 observed {}; finalize after "
                "whole chunks",
                il, n_seen_[static_cast<size_t>(il)], n_tokens));
        }
    }
    check_cache(cache, shape_, n_tokens);

    // Each layer's products are small (n_tokens × head_dim by head_dim ×
    // n_group·head_dim), and OpenBLAS threads spinning on them ran slower
    // than one thread on a loaded 2-core machine.
    const SingleThreadedBlas single_threaded_blas;

    // Future queries take positions n_tokens, n_tokens + 1, ..., as kvpress places them.
    const AverageRotation rotation = average_rope_rotation(shape_, n_tokens, options_.n_future_positions);
    ScoreSet out;
    out.n_tokens = n_tokens;
    out.scores.resize(static_cast<size_t>(shape_.n_layer));
    for (int il = 0; il < shape_.n_layer; ++il) {
        out.scores[static_cast<size_t>(il)] = score_layer(cache, il, n_tokens, rotation);
    }
    return out;
}

std::unique_ptr<Scorer> make_expected_attention_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<ExpectedAttentionScorer>(options, shape);
}

}  // namespace compactor
