// Attention of the context's last queries over all its keys, for the scorers
// that judge tokens by what the end of the document attends to (SnapKV,
// PyramidKV, TOVA).
#pragma once

#include <cstdint>
#include <vector>

#include "compress/compressor.h"

namespace compactor {

// The post-RoPE queries of the last `window` tokens of every layer, kept
// during the prefill because the cache stores no queries. Memory: window ×
// n_head × head_dim floats per layer.
class QueryWindow {
public:
    QueryWindow(const ModelShape& shape, int window);

    // Keep the last `window` query rows seen so far in layer chunk.il. The
    // caller has checked the chunk (check_chunk).
    void observe(const LayerChunk& chunk);

    // Query rows kept for layer il: min(window, tokens observed).
    int64_t n_rows(int il) const;

    // The last n_query (≤ n_rows(il)) queries of layer il, head-major:
    // out [n_head × n_query × head_dim], oldest query first within a head.
    void head_major(int il, int64_t n_query, std::vector<float>& out) const;

private:
    ModelShape shape_;
    int window_;
    std::vector<std::vector<float>> rows_;  // [n_layer][n_rows × n_head × head_dim], oldest first
};

// Reusable buffers of add_window_attention(), so that scoring a layer does
// not allocate per head.
struct WindowAttentionWorkspace {
    std::vector<float> probs;      // [n_rows × n_keys]
    std::vector<float> row_scale;  // [n_rows]
};

// Add to column_sums [n_keys] the softmax attention every key receives from
// the queries [n_rows × head_dim] (row-major, contiguous), summed over the
// rows. Row r is the query at document position n_keys − n_query + (r mod
// n_query), so the windows of several query heads of one KV head can be
// stacked. Each row attends only to the keys up to its own position
// (causal), as kvpress 0.5.4's SnapKVPress.compute_window_attention masks
// them. Logits are q·k / √head_dim. keys [n_keys × head_dim] are one KV
// head's post-RoPE keys. Throws std::runtime_error when a row's logits are
// not finite.
void add_window_attention(const float* queries, int64_t n_rows, int64_t n_query, const float* keys, int64_t n_keys,
                          int head_dim, WindowAttentionWorkspace& workspace, std::vector<float>& column_sums);

}  // namespace compactor
