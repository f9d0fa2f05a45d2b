#include "compress/selection.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace compactor {

namespace {

struct Candidate {
    float score;
    int h;
    int64_t t;
};

// Strict order: higher score first, then lower head, then lower index, so
// selection never depends on the sort algorithm.
bool ranks_before(const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.h != b.h) return a.h < b.h;
    return a.t < b.t;
}

// The scored tokens of head h, best first.
std::vector<Candidate> ranked_head(std::span<const float> scores, int h, int64_t n_tokens, ScoredRange range) {
    std::vector<Candidate> ranked;
    ranked.reserve(static_cast<size_t>(range.size()));
    for (int64_t t = range.begin; t < range.end; ++t) {
        const float s = scores[static_cast<size_t>(h * n_tokens + t)];
        if (std::isnan(s)) {
            throw std::invalid_argument(
                fmt::format("compress: score of head {} token {} is NaN; the scorer's inputs are not finite", h, t));
        }
        ranked.push_back({s, h, t});
    }
    std::sort(ranked.begin(), ranked.end(), ranks_before);
    return ranked;
}

void add_protected(std::vector<int64_t>& kept, int64_t n_tokens, ScoredRange range) {
    for (int64_t t = 0; t < range.begin; ++t) kept.push_back(t);
    for (int64_t t = range.end; t < n_tokens; ++t) kept.push_back(t);
}

void check_scores(std::span<const float> scores, int n_head_kv, int64_t n_tokens) {
    const size_t expected = static_cast<size_t>(n_head_kv) * static_cast<size_t>(n_tokens);
    if (scores.size() != expected) {
        throw std::invalid_argument(fmt::format(
            "compress: layer scores have {} entries, expected n_head_kv × n_tokens = {} × {} = {}", scores.size(),
            n_head_kv, n_tokens, expected));
    }
}

}  // namespace

int64_t keep_count(int64_t n_tokens, double ratio, ScoredRange range) {
    const int64_t n_protected = n_tokens - range.size();
    const int64_t n_keep = std::llround((1.0 - ratio) * static_cast<double>(n_tokens));
    return std::clamp(n_keep, n_protected, n_tokens);
}

KeptRows select_per_head(std::span<const float> scores, int n_head_kv, int64_t n_tokens, int64_t n_keep,
                         ScoredRange range) {
    check_scores(scores, n_head_kv, n_tokens);
    const int64_t n_free = std::clamp<int64_t>(n_keep - (n_tokens - range.size()), 0, range.size());

    KeptRows kept(static_cast<size_t>(n_head_kv));
    for (int h = 0; h < n_head_kv; ++h) {
        const std::vector<Candidate> ranked = ranked_head(scores, h, n_tokens, range);
        std::vector<int64_t>& rows = kept[static_cast<size_t>(h)];
        add_protected(rows, n_tokens, range);
        for (int64_t i = 0; i < n_free; ++i) rows.push_back(ranked[static_cast<size_t>(i)].t);
        std::sort(rows.begin(), rows.end());
    }
    return kept;
}

KeptRows select_per_layer(std::span<const float> scores, int n_head_kv, int64_t n_tokens, int64_t n_keep,
                          ScoredRange range, double head_floor) {
    check_scores(scores, n_head_kv, n_tokens);
    const int64_t n_protected = n_tokens - range.size();
    // The floor counts protected rows, as kvpress's AdaKVPress safeguard does.
    const int64_t n_floor = static_cast<int64_t>(std::floor(head_floor * static_cast<double>(n_keep)));
    const int64_t n_floor_free = std::clamp<int64_t>(n_floor - n_protected, 0, range.size());

    KeptRows kept(static_cast<size_t>(n_head_kv));
    std::vector<Candidate> pool;
    pool.reserve(static_cast<size_t>(n_head_kv) * static_cast<size_t>(range.size()));
    int64_t budget = static_cast<int64_t>(n_head_kv) * n_keep;

    // Every head first takes its protected rows and its floor.
    for (int h = 0; h < n_head_kv; ++h) {
        const std::vector<Candidate> ranked = ranked_head(scores, h, n_tokens, range);
        std::vector<int64_t>& rows = kept[static_cast<size_t>(h)];
        add_protected(rows, n_tokens, range);
        for (int64_t i = 0; i < n_floor_free; ++i) rows.push_back(ranked[static_cast<size_t>(i)].t);
        pool.insert(pool.end(), ranked.begin() + static_cast<std::ptrdiff_t>(n_floor_free), ranked.end());
        budget -= n_protected + n_floor_free;
    }

    // The rest of the layer's budget goes to the best rows of any head.
    const int64_t n_pool = std::clamp<int64_t>(budget, 0, static_cast<int64_t>(pool.size()));
    std::partial_sort(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(n_pool), pool.end(), ranks_before);
    for (int64_t i = 0; i < n_pool; ++i) {
        const Candidate& c = pool[static_cast<size_t>(i)];
        kept[static_cast<size_t>(c.h)].push_back(c.t);
    }
    for (std::vector<int64_t>& rows : kept) std::sort(rows.begin(), rows.end());
    return kept;
}

}  // namespace compactor
