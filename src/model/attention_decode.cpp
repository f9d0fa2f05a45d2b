#include "model/attention_decode.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <cblas.h>

#include "model/softmax.h"

namespace compactor {

namespace {

// Minimum rows per range: below this, the per-range BLAS calls and the
// merge cost more than the parallelism gains.
constexpr int64_t kMinRangeRows = 256;

// Maximum ranges per thread, so a thread that loses its core to another
// process delays only a small share of the work.
constexpr int64_t kRangesPerThread = 2;

struct Range {
    int h;           // KV head
    int64_t r0, r1;  // rows [r0, r1) of the head
};

// Per range: for each query head j of the group, the maximum score m[j], the
// sum of exp(score − m[j]) l[j] and the unnormalized output o[j × head_dim].
struct Partial {
    std::vector<float> m, l, o;
};

// Per thread: the group's transposed queries and the range's scores.
struct DecodeBuffers {
    std::vector<float> q_t;     // [head_dim × group]
    std::vector<float> scores;  // [rows × group]
};

void attend_range(const float* q, int group, int head_dim, float scale, const KvCache& cache, int il,
                  const Range& range, Partial& partial, DecodeBuffers& buffers) {
    const int64_t n_rows = range.r1 - range.r0;
    const float* keys = cache.keys(il, range.h).data() + range.r0 * head_dim;
    const float* values = cache.values(il, range.h).data() + range.r0 * head_dim;
    const float* q_group = q + static_cast<int64_t>(range.h) * group * head_dim;

    // Transposed queries, so the scores come out keys-major and OpenBLAS's
    // small-matrix kernels read K in place (see forward_batch.cpp).
    buffers.q_t.resize(static_cast<size_t>(head_dim * group));
    for (int j = 0; j < group; ++j) {
        for (int d = 0; d < head_dim; ++d) buffers.q_t[static_cast<size_t>(d * group + j)] = q_group[j * head_dim + d];
    }

    // Scores: [n_rows × group] = K · Qᵀ · scale
    buffers.scores.resize(static_cast<size_t>(n_rows * group));
    float* scores = buffers.scores.data();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(n_rows), group, head_dim, scale,
                keys, head_dim, buffers.q_t.data(), group, 0.0f, scores, group);

    // Unnormalized softmax per column; the merge divides by the total sum
    partial.m.assign(static_cast<size_t>(group), 0.0f);
    partial.l.assign(static_cast<size_t>(group), 0.0f);
    for (int j = 0; j < group; ++j) {
        float max_score = scores[j];
        for (int64_t r = 1; r < n_rows; ++r) max_score = std::max(max_score, scores[r * group + j]);
        double sum = 0.0;
        for (int64_t r = 0; r < n_rows; ++r) {
            float& p = scores[r * group + j];
            p = exp_nonpositive(p - max_score);
            sum += p;
        }
        partial.m[static_cast<size_t>(j)] = max_score;
        partial.l[static_cast<size_t>(j)] = static_cast<float>(sum);
    }

    // Output: [group × head_dim] = Pᵀ · V
    partial.o.resize(static_cast<size_t>(group * head_dim));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, group, head_dim, static_cast<blasint>(n_rows), 1.0f, scores,
                group, values, head_dim, 0.0f, partial.o.data(), head_dim);
}

}  // namespace

void attend_one_token(const float* q, int n_head, const KvCache& cache, int il, float* out, ThreadPool& pool) {
    const int n_head_kv = cache.n_head_kv();
    const int head_dim = cache.head_dim();
    const int group = n_head / n_head_kv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

    // Per calling thread and only growing, so decode steps do not allocate.
    // forward() may run concurrently on other caches from other threads.
    // Pool tasks reach them through these references: naming a thread_local
    // inside a task would give the worker's own, empty, instance.
    thread_local std::vector<Range> ranges_storage;
    thread_local std::vector<size_t> first_range_storage;
    thread_local std::vector<Partial> partials_storage;
    std::vector<Range>& ranges = ranges_storage;
    std::vector<size_t>& first_range = first_range_storage;
    std::vector<Partial>& partials = partials_storage;

    // Ranges: each head's rows cut into about equal pieces, enough of them
    // for every thread to get work when the heads are few.
    ranges.clear();
    first_range.assign(static_cast<size_t>(n_head_kv) + 1, 0);
    const int64_t target_ranges = kRangesPerThread * pool.n_threads();
    for (int h = 0; h < n_head_kv; ++h) {
        first_range[static_cast<size_t>(h)] = ranges.size();
        const int64_t length = cache.length(il, h);
        const int64_t max_ranges = (target_ranges + n_head_kv - 1) / n_head_kv;
        const int64_t n_ranges = std::clamp<int64_t>(length / kMinRangeRows, 1, max_ranges);
        for (int64_t s = 0; s < n_ranges; ++s) ranges.push_back({h, length * s / n_ranges, length * (s + 1) / n_ranges});
    }
    first_range[static_cast<size_t>(n_head_kv)] = ranges.size();

    if (partials.size() < ranges.size()) partials.resize(ranges.size());
    pool.parallel_for(static_cast<int64_t>(ranges.size()), [&](int64_t i) {
        thread_local DecodeBuffers buffers;
        attend_range(q, group, head_dim, scale, cache, il, ranges[static_cast<size_t>(i)],
                     partials[static_cast<size_t>(i)], buffers);
    });

    // Merge: out = Σ_s e^(m_s − M) o_s / Σ_s e^(m_s − M) l_s, M the largest m_s
    for (int h = 0; h < n_head_kv; ++h) {
        const size_t s0 = first_range[static_cast<size_t>(h)];
        const size_t s1 = first_range[static_cast<size_t>(h) + 1];
        for (int j = 0; j < group; ++j) {
            float max_m = partials[s0].m[static_cast<size_t>(j)];
            for (size_t s = s0 + 1; s < s1; ++s) max_m = std::max(max_m, partials[s].m[static_cast<size_t>(j)]);

            float* o = out + (static_cast<int64_t>(h) * group + j) * head_dim;
            std::fill(o, o + head_dim, 0.0f);
            double total = 0.0;
            for (size_t s = s0; s < s1; ++s) {
                const float weight = exp_nonpositive(partials[s].m[static_cast<size_t>(j)] - max_m);
                total += static_cast<double>(weight) * partials[s].l[static_cast<size_t>(j)];
                const float* o_s = partials[s].o.data() + static_cast<size_t>(j) * head_dim;
                for (int d = 0; d < head_dim; ++d) o[d] += weight * o_s[d];
            }
            const auto inv_total = static_cast<float>(1.0 / total);
            for (int d = 0; d < head_dim; ++d) o[d] *= inv_total;
        }
    }
}

}  // namespace compactor
