#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "compress/compressor.h"
#include "compress/selection.h"

namespace compactor {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Fill the measured fields of `report` from the cache.
void measure(const KvCache& cache, CompressionReport& report) {
    report.rows_after = cache.total_rows();
    report.bytes_after = cache.size_bytes();
    report.kept_fraction = report.rows_before > 0
                               ? static_cast<double>(report.rows_after) / static_cast<double>(report.rows_before)
                               : 1.0;
}

// Every head must hold the n_tokens rows the scorer saw, and the score set
// must cover every layer and head.
void check_scores_match_cache(const KvCache& cache, const ScoreSet& scores) {
    if (static_cast<int>(scores.scores.size()) != cache.n_layer()) {
        throw std::invalid_argument(fmt::format("compress: the scorer returned {} layers but the cache has {}",
                                                scores.scores.size(), cache.n_layer()));
    }
    for (int il = 0; il < cache.n_layer(); ++il) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            if (cache.length(il, h) != scores.n_tokens) {
                throw std::invalid_argument(fmt::format(
                    "compress: the scorer observed {} tokens but layer {} head {} contains {} rows; "
                    "compress right after prefilling the document into an empty cache",
                    scores.n_tokens, il, h, cache.length(il, h)));
            }
        }
    }
}

KeptRows select_layer(const ScoreSet& scores, int il, int n_head_kv, int64_t n_keep, ScoredRange range,
                      const CompressionOptions& options) {
    const std::vector<float>& layer = scores.scores[static_cast<size_t>(il)];
    if (options.budget == BudgetMode::per_head) {
        return select_per_head(layer, n_head_kv, scores.n_tokens, n_keep, range);
    }
    return select_per_layer(layer, n_head_kv, scores.n_tokens, n_keep, range, options.head_floor);
}

// Select each layer's rows and pass them to apply(il, kept). Layer budgets
// come from scores.layer_keep when the scorer set one, clamped to
// [protected, n].
template <typename Apply>
void select_layers(const KvCache& cache, const ScoreSet& scores, ScoredRange range, const CompressionOptions& options,
                   Apply apply) {
    const int64_t n_tokens = scores.n_tokens;
    const int64_t n_keep = keep_count(n_tokens, options.ratio, range);
    std::vector<int64_t> layer_keep(static_cast<size_t>(cache.n_layer()), n_keep);
    if (scores.layer_keep) {
        layer_keep = scores.layer_keep(n_tokens, n_keep);
        if (static_cast<int>(layer_keep.size()) != cache.n_layer()) {
            throw std::invalid_argument(fmt::format("compress: the scorer gave budgets for {} layers but the cache has {}",
                                                    layer_keep.size(), cache.n_layer()));
        }
        const int64_t n_protected = n_tokens - range.size();
        for (int64_t& keep : layer_keep) keep = std::clamp(keep, n_protected, n_tokens);
    }
    for (int il = 0; il < cache.n_layer(); ++il) {
        apply(il, select_layer(scores, il, cache.n_head_kv(), layer_keep[static_cast<size_t>(il)], range, options));
    }
}

void compact_layers(KvCache& cache, const ScoreSet& scores, ScoredRange range, const CompressionOptions& options) {
    select_layers(cache, scores, range, options, [&](int il, const KeptRows& kept) {
        for (int h = 0; h < cache.n_head_kv(); ++h) cache.compact(il, h, kept[static_cast<size_t>(h)]);
    });
}

// The report's fields before compression, with kept_fraction 1.
CompressionReport report_before(const KvCache& cache) {
    CompressionReport report;
    report.n_tokens = cache.max_length();
    report.rows_before = cache.total_rows();
    report.bytes_before = cache.size_bytes();
    measure(cache, report);
    return report;
}

}  // namespace

CompressionReport compress(KvCache& cache, Scorer* scorer, const CompressionOptions& options) {
    validate(options);
    CompressionReport report = report_before(cache);

    if (scorer == nullptr || options.ratio == 0.0) {
        spdlog::info("compress: method {} at ratio {}: cache left unchanged ({} tokens, {} bytes)", options.method,
                     options.ratio, report.n_tokens, report.bytes_before);
        return report;
    }
    const ScoredRange range = scored_range(report.n_tokens, options.sink, options.recent);
    if (range.size() <= 0) {
        spdlog::info("compress: {} tokens are all protected (sink {}, recent {}); cache left uncompressed",
                     report.n_tokens, options.sink, options.recent);
        report.skipped = true;
        return report;
    }

    // Score.
    const Clock::time_point score_start = Clock::now();
    const ScoreSet scores = scorer->finalize(cache);
    report.score_s = seconds_since(score_start);
    check_scores_match_cache(cache, scores);

    // Select and compact, layer by layer.
    const Clock::time_point compact_start = Clock::now();
    compact_layers(cache, scores, range, options);
    report.compact_s = seconds_since(compact_start);

    measure(cache, report);
    spdlog::info(
        "compress: {} at ratio {} ({} budget): {} tokens, kept {} of {} rows ({:.1f}%), {} -> {} bytes; "
        "scoring {:.3f} s, selection and compaction {:.3f} s",
        options.method, options.ratio, options.budget == BudgetMode::per_head ? "per-head" : "per-layer",
        report.n_tokens, report.rows_after, report.rows_before, 100.0 * report.kept_fraction, report.bytes_before,
        report.bytes_after, report.score_s, report.compact_s);
    return report;
}

CompressionReport compress_with_scores(KvCache& cache, const ScoreSet& scores, const CompressionOptions& options) {
    validate(options);
    CompressionReport report = report_before(cache);

    if (options.method == "none" || options.ratio == 0.0) return report;
    const ScoredRange range = scored_range(report.n_tokens, options.sink, options.recent);
    if (range.size() <= 0) {
        report.skipped = true;
        return report;
    }
    check_scores_match_cache(cache, scores);

    const Clock::time_point compact_start = Clock::now();
    compact_layers(cache, scores, range, options);
    report.compact_s = seconds_since(compact_start);
    measure(cache, report);
    spdlog::debug("compress: {} at ratio {} from precomputed scores: kept {} of {} rows, {:.3f} s", options.method,
                  options.ratio, report.rows_after, report.rows_before, report.compact_s);
    return report;
}

CompressedCopy compressed_copy(const KvCache& cache, const ScoreSet& scores, const CompressionOptions& options,
                               int64_t n_room) {
    validate(options);
    CompressedCopy out;
    out.report = report_before(cache);
    CompressionReport& report = out.report;

    if (options.method == "none" || options.ratio == 0.0) {
        out.cache = cache.copy_with_room(n_room);
        return out;
    }
    const ScoredRange range = scored_range(report.n_tokens, options.sink, options.recent);
    if (range.size() <= 0) {
        report.skipped = true;
        out.cache = cache.copy_with_room(n_room);
        return out;
    }
    check_scores_match_cache(cache, scores);

    const Clock::time_point compact_start = Clock::now();
    out.cache = cache.empty_like();
    select_layers(cache, scores, range, options, [&](int il, const KeptRows& kept) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            out.cache.gather_rows(il, h, cache, kept[static_cast<size_t>(h)], n_room);
        }
    });
    report.compact_s = seconds_since(compact_start);
    measure(out.cache, report);
    spdlog::debug("compress: {} at ratio {} from precomputed scores into a copy: kept {} of {} rows, {:.3f} s",
                  options.method, options.ratio, report.rows_after, report.rows_before, report.compact_s);
    return out;
}

}  // namespace compactor
