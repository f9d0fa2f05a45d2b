#include "cli/scorer_options.h"

namespace compactor::cli {

void add_scorer_knob_options(CLI::App& command, CompressionOptions& c, bool& no_value_weighting) {
    command.add_option("--blend", c.blend, "Weight λ of the leverage part: score = z(attention) + λ·z(leverage)")
        ->capture_default_str();
    command.add_option("--sketch-dim", c.sketch_dim, "Columns of the Gaussian sketch of the keys")
        ->capture_default_str();
    command.add_option("--attn-chunk", c.attn_chunk, "Tokens per non-causal attention chunk of the scorer")
        ->capture_default_str();
    command.add_option("--sink", c.sink, "First context tokens always kept")->capture_default_str();
    command.add_option("--recent", c.recent, "Last context tokens always kept")->capture_default_str();
    command.add_option("--head-floor", c.head_floor,
                       "per_layer: smallest share of an even split that each head keeps, in [0, 1]")
        ->capture_default_str();
    command.add_option("--leverage-window", c.leverage_window,
                       "Tokens per window of leverage statistics; 0 uses the whole context")
        ->capture_default_str();
    command.add_flag("--no-value-weighting", no_value_weighting, "Do not multiply attention scores by the value norm");
    command.add_option("--window", c.window, "snapkv, pyramidkv: last context tokens whose queries score the rest")
        ->capture_default_str();
    command.add_option("--pool-kernel", c.pool_kernel, "snapkv, pyramidkv: odd width of the score moving average")
        ->capture_default_str();
    command.add_option("--pyramid-beta", c.pyramid_beta,
                       "pyramidkv: the last layer keeps (n - window) / beta + window tokens")
        ->capture_default_str();
    command.add_option("--n-future-positions", c.n_future_positions,
                       "expected_attention: future query positions averaged over")
        ->capture_default_str();
    command.add_option("--epsilon", c.epsilon, "expected_attention: added to the value norm before weighting")
        ->capture_default_str();
}

}  // namespace compactor::cli
