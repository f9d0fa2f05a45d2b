// Several independent sequences through the transformer at once, each on its
// own KV cache (the body of Model::forward_batch).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/rope.h"
#include "model/thread_pool.h"
#include "model/weights.h"

namespace compactor {

// A run of consecutive tokens of one sequence inside a pass.
struct BatchPiece {
    int64_t seq = 0;       // index of the sequence in the batch
    int64_t offset = 0;    // index of the piece's first token in the sequence
    int64_t n_tokens = 0;
    int64_t row0 = 0;      // first row of the piece in the pass's activations
    int64_t pos0 = 0;      // position of the piece's first token
    bool last = false;     // the piece ends its sequence, so its last row gives the logits
};

// One attention work item: a block of a piece's tokens against one KV head.
struct BatchAttentionItem {
    int32_t piece = 0;
    int32_t h = 0;         // KV head
    int64_t t0 = 0, t1 = 0;  // tokens t0 .. t1 − 1 of the piece
};

// Buffers of forward_batch, sized on first use and kept between calls, so
// decode steps reuse them without reallocating.
struct BatchScratch {
    std::vector<float> x;       // [n_rows × n_embd] residual stream
    std::vector<float> xn;      // [n_rows × n_embd] normalized input of a block
    std::vector<float> q;       // [n_rows × n_head × head_dim]
    std::vector<float> k;       // [n_rows × n_head_kv × head_dim]
    std::vector<float> v;       // [n_rows × n_head_kv × head_dim]
    std::vector<float> attn;    // [n_rows × n_head × head_dim] attention output
    std::vector<float> proj;    // [n_rows × n_embd] output of a block's last projection
    std::vector<float> gate;    // [n_rows × n_ff]
    std::vector<float> up;      // [n_rows × n_ff]
    std::vector<float> last_hidden;  // [n_logit_rows × n_embd] normalized rows that give logits
    std::vector<double> rope_freq;   // [n_rot / 2] angle per position of each rotated pair
    RopeTable rope;                  // [n_rows] rows, each at its own sequence's position
    std::vector<BatchPiece> pieces;
    std::vector<BatchAttentionItem> items;
};

// Rows of one pass at most. Longer batches run in several passes, so
// activation memory stays bounded (25 KiB per row for SmolLM2-135M, 50 MiB per pass).
inline constexpr int64_t kMaxBatchRows = 2048;

// Run sequence i's tokens[i] at positions caches[i]->next_pos() onwards and
// append them to caches[i]. When `logits` is non-null it receives the
// logits of each sequence's last n_logit_rows[i] tokens (the last token only
// when n_logit_rows is empty), sequence after sequence: [Σ rows × n_vocab].
// Validates everything before changing any cache and throws
// std::invalid_argument naming the sequence: a count mismatch between tokens
// and caches, a null, repeated or wrongly shaped cache, an empty token list,
// an out-of-range token id or a logit row count outside 1 .. its tokens.
// An empty batch clears `logits`.
void forward_batch(const ModelConfig& config, const ModelWeights& weights,
                   std::span<const std::span<const int32_t>> tokens, std::span<KvCache* const> caches,
                   ThreadPool& pool, BatchScratch& scratch, std::vector<float>* logits,
                   std::span<const int64_t> n_logit_rows = {});

}  // namespace compactor
