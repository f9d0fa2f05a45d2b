// The scorer knobs shared by `run` and `eval`.
#pragma once

#include <CLI/CLI.hpp>

#include "compress/compressor.h"

namespace compactor::cli {

// Add --blend, --sketch-dim, --attn-chunk, --sink, --recent, --head-floor,
// --leverage-window, --no-value-weighting and the baseline methods' knobs
// (--window, --pool-kernel, --pyramid-beta, --n-future-positions, --epsilon)
// to `command`, writing into `options`. --no-value-weighting sets
// `no_value_weighting`, which the caller applies.
void add_scorer_knob_options(CLI::App& command, CompressionOptions& options, bool& no_value_weighting);

}  // namespace compactor::cli
