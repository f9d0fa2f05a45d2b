// PyramidKV: SnapKV scores with layer budgets that shrink linearly with depth.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"
#include "compress/snapkv_scorer.h"

namespace compactor {

// Cai et al., "PyramidKV: Dynamic KV Cache Compression based on Pyramidal
// Information Funneling" (arXiv 2406.02069), as kvpress 0.5.4 PyramidKVPress
// does it. The scores are SnapKV's (SnapKvScorer, same window and
// pool_kernel). ScoreSet::layer_keep is set to pyramid_layer_keep(), so early
// layers keep more tokens than late ones and the layers keep n_keep per head
// on average.
//
// Departures from kvpress: compress() always keeps the first `sink` and the
// last `recent` tokens, which PyramidKVPress does not protect, and clamps
// every layer's budget to at least those protected tokens. The budgets start
// from the rounded uniform keep count, where PyramidKVPress uses the
// unrounded n · (1 − ratio), so a budget can differ by one token when
// n · (1 − ratio) is not an integer. A model of one layer keeps the uniform
// count, where PyramidKVPress divides by zero.
class PyramidKvScorer : public Scorer {
public:
    PyramidKvScorer(const CompressionOptions& options, const ModelShape& shape);

    void observe(const LayerChunk& chunk) override { snapkv_.observe(chunk); }
    ScoreSet finalize(const KvCache& cache) override;

private:
    int n_layer_;
    int window_;
    double beta_;
    SnapKvScorer snapkv_;
};

// The keep count per head of each layer [n_layer] for a context of n_tokens
// whose uniform keep count is n_keep. With w = window, the last layer keeps
// low = n_keep / beta tokens and the first high = 2 · n_keep − low, so that
// the mean is n_keep. When high exceeds n_tokens − w it is capped there and
// low rises to keep the mean. Layer l keeps high − l · (high − low) /
// (n_layer − 1), rounded half to even as Python's round(), which keeps the
// sum at n_layer · n_keep up to floating-point error at exact halves. When
// the budgets would not satisfy n_tokens ≥ high ≥ low ≥ w (a short context
// or a high keep fraction), every layer keeps n_keep, as PyramidKVPress
// falls back to SnapKV.
std::vector<int64_t> pyramid_layer_keep(int64_t n_tokens, int64_t n_keep, int n_layer, int window, double beta);

}  // namespace compactor
