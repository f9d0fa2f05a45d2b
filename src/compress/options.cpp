#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "compress/compressor.h"

namespace compactor {

namespace {

void require(bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
}

}  // namespace

void validate(const CompressionOptions& options) {
    const std::vector<std::string>& names = method_names();
    require(std::find(names.begin(), names.end(), options.method) != names.end(),
            fmt::format("compression method '{}' is unknown; use one of {}", options.method,
                        fmt::join(names, ", ")));
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
    require(options.window >= 1, fmt::format("window {} is invalid; use at least 1 token (64 by default)", options.window));
    require(options.pool_kernel >= 1 && options.pool_kernel % 2 == 1,
            fmt::format("pool_kernel {} is invalid; use an odd width of at least 1 (5 by default)", options.pool_kernel));
    require(std::isfinite(options.pyramid_beta) && options.pyramid_beta >= 1.0,
            fmt::format("pyramid_beta {} is invalid; use 1 or more (20 by default)", options.pyramid_beta));
    require(options.n_future_positions >= 1,
            fmt::format("n_future_positions {} is invalid; use at least 1 (512 by default)", options.n_future_positions));
    require(std::isfinite(options.epsilon) && options.epsilon >= 0.0,
            fmt::format("epsilon {} is invalid; use 0 or more (0.02 by default)", options.epsilon));
}

}  // namespace compactor
