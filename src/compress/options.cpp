#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "compress/compressor.h"

namespace compactor {

namespace {

void require(bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
}

}  // namespace

void validate(const CompressionOptions& options) {
    const std::string& m = options.method;
    require(m == "compactor" || m == "leverage" || m == "attention" || m == "none",
            fmt::format("compression method '{}' is unknown; use compactor, leverage, attention or none", m));
    require(std::isfinite(options.ratio) && options.ratio >= 0.0 && options.ratio < 1.0,
            fmt::format("compression ratio {} is invalid; it is the fraction of tokens removed, in [0, 1)",
                        options.ratio));
    require(std::isfinite(options.blend),
            fmt::format("blend (λ) {} is invalid; use a finite weight such as 0.3", options.blend));
    require(options.sketch_dim >= 1,
            fmt::format("sketch_dim {} is invalid; use at least 1 (48 by default)", options.sketch_dim));
    require(options.attn_chunk >= 1,
            fmt::format("attn_chunk {} is invalid; use at least 1 token (256 by default)", options.attn_chunk));
    require(options.sink >= 0, fmt::format("sink {} is invalid; use 0 or more tokens", options.sink));
    require(options.recent >= 0, fmt::format("recent {} is invalid; use 0 or more tokens", options.recent));
    require(std::isfinite(options.head_floor) && options.head_floor >= 0.0 && options.head_floor <= 1.0,
            fmt::format("head_floor {} is invalid; use a share in [0, 1] (0.2 by default)", options.head_floor));
    require(options.leverage_window >= 0,
            fmt::format("leverage_window {} is invalid; use 0 (whole sequence) or a token count",
                        options.leverage_window));
}

}  // namespace compactor
