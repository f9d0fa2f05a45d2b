// Online calibration: pick a document's kept fraction from its own probes,
// with no fitted calibration file. Probes are quoting questions about the
// document ("Quote the text after <cue>.") whose reference answers are the
// document's own spans. Their NLL under the full cache and under caches
// compressed to candidate kept fractions gives the quality ratio
// g = NLL(full) / NLL(compressed); the smallest candidate with g >= τ wins.
#pragma once

#include <cstdint>
#include <vector>

namespace compactor {

struct OnlineCalibrationOptions {
    int n_probes = 3;         // quoting questions, one per equal stretch of the document
    int cue_tokens = 8;       // document tokens quoted in the question before the span
    // Document tokens the answer must reproduce. The question's wording
    // takes about 28 tokens per probe, so fewer, longer spans measure more
    // answer tokens for the same forward rows.
    int span_tokens = 16;
    // Kept fractions tried by binary search, sorted ascending, each in
    // (0, 1). Seven entries take exactly three candidates, which with the
    // full-cache pass keeps the cost near a fifth of a 4k prefill.
    std::vector<double> kept_grid{0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
    uint64_t seed = 0;        // places the probes within their stretches
};

// One kept fraction the search tried.
struct CalibrationCandidate {
    double kept_fraction = 0;  // requested (1 − compression ratio)
    double kept_measured = 0;  // rows kept / rows, measured on the compressed cache
    double probe_nll = 0;      // nats per probe answer token
    double quality_ratio = 0;  // probe NLL under the full cache / probe_nll
    double seconds = 0;        // compression and teacher forcing of this candidate when first measured
};

struct OnlineCalibration {
    double tau = 1.0;
    // The chosen kept fraction: the smallest candidate with quality_ratio >=
    // tau, or 1 (no compression) when none passes or tau is 1.
    double kept_fraction = 1.0;
    double ratio = 0.0;          // 1 − kept_fraction, the compression ratio to apply
    double probe_nll_full = 0;   // nats per probe answer token, full cache
    int64_t n_probes = 0;
    int64_t n_probe_tokens = 0;  // answer tokens over all probes
    std::vector<CalibrationCandidate> candidates;  // in the order tried
    // What a call for this budget alone takes: the probes' full-cache pass
    // plus every candidate tried (a candidate shared between budgets of one
    // call counts the time it took when first measured).
    double seconds = 0;
};

}  // namespace compactor
