#include "model/forward_batch.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <cblas.h>
#include <fmt/format.h>

#include "model/linear.h"
#include "model/softmax.h"

namespace compactor {

namespace {

// Tokens per attention work item. With the query heads of a KV head stacked,
// one item multiplies up to kAttentionTokens × group query rows at once.
constexpr int64_t kAttentionTokens = 32;

const float* bias_or_null(const std::vector<float>& bias) { return bias.empty() ? nullptr : bias.data(); }

// ---- Validation ----

void check_sequence(const ModelConfig& c, size_t i, std::span<const int32_t> tokens, const KvCache* cache) {
    if (cache == nullptr) {
        throw std::invalid_argument(fmt::format(
            "forward_batch: sequence {} has a null KV cache; pass one cache per sequence", i));
    }
    if (cache->n_layer() != c.n_layer || cache->n_head_kv() != c.n_head_kv || cache->head_dim() != c.head_dim) {
        throw std::invalid_argument(fmt::format(
            "forward_batch: sequence {}: the KV cache has {} layers × {} KV heads × head_dim {}, but the model "
            "needs {} × {} × {}; create it with Model::make_cache()",
            i, cache->n_layer(), cache->n_head_kv(), cache->head_dim(), c.n_layer, c.n_head_kv, c.head_dim));
    }
    if (tokens.empty()) {
        throw std::invalid_argument(fmt::format(
            "forward_batch: sequence {} has no tokens; every sequence needs at least one", i));
    }
    for (size_t t = 0; t < tokens.size(); ++t) {
        if (tokens[t] < 0 || tokens[t] >= c.n_vocab) {
            throw std::invalid_argument(fmt::format(
                "forward_batch: sequence {}: token id {} at index {} is out of range for a vocabulary of {} tokens",
                i, tokens[t], t, c.n_vocab));
        }
    }

    // KvCache::append would reject it midway, after other caches have grown.
    const int64_t last_pos = cache->next_pos() + static_cast<int64_t>(tokens.size()) - 1;
    if (last_pos > static_cast<int64_t>(std::numeric_limits<int32_t>::max())) {
        throw std::invalid_argument(fmt::format(
            "forward_batch: sequence {}: position {} does not fit the cache's int32 positions", i, last_pos));
    }
}

// Every check runs before any cache changes, so a rejected batch leaves all
// caches as they were.
void check_batch(const ModelConfig& c, std::span<const std::span<const int32_t>> tokens,
                 std::span<KvCache* const> caches) {
    if (tokens.size() != caches.size()) {
        throw std::invalid_argument(fmt::format(
            "forward_batch: {} token lists but {} KV caches; pass one cache per sequence", tokens.size(),
            caches.size()));
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
        check_sequence(c, i, tokens[i], caches[i]);

        // Two sequences on one cache would interleave their rows. O(n²) is
        // nothing next to a forward pass for batches of a few hundred.
        for (size_t j = 0; j < i; ++j) {
            if (caches[j] == caches[i]) {
                throw std::invalid_argument(fmt::format(
                    "forward_batch: sequences {} and {} share one KV cache; give each sequence its own", j, i));
            }
        }
    }
}

// Each sequence gives logits for between 1 and all of its tokens.
void check_logit_rows(std::span<const std::span<const int32_t>> tokens, std::span<const int64_t> n_logit_rows) {
    if (n_logit_rows.empty()) return;
    if (n_logit_rows.size() != tokens.size()) {
        throw std::invalid_argument(fmt::format(
            "forward_batch: {} logit row counts for {} sequences; pass one count per sequence or none",
            n_logit_rows.size(), tokens.size()));
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (n_logit_rows[i] < 1 || n_logit_rows[i] > static_cast<int64_t>(tokens[i].size())) {
            throw std::invalid_argument(fmt::format(
                "forward_batch: sequence {} asks for logits of its last {} tokens but has {}; ask for 1 to {}",
                i, n_logit_rows[i], tokens[i].size(), tokens[i].size()));
        }
    }
}

// Output rows of one call: sequence i gives logits for its last count[i]
// tokens, at rows first_row[i] .. first_row[i] + count[i] − 1.
struct LogitRows {
    std::vector<int64_t> count;
    std::vector<int64_t> first_row;
};

// ---- One pass ----

void resize_scratch(const ModelConfig& c, int64_t n_rows, BatchScratch& s) {
    const auto n = static_cast<size_t>(n_rows);
    const size_t n_q = static_cast<size_t>(c.n_head) * c.head_dim;
    const size_t n_kv = static_cast<size_t>(c.n_head_kv) * c.head_dim;
    s.x.resize(n * c.n_embd);
    s.xn.resize(n * c.n_embd);
    s.q.resize(n * n_q);
    s.k.resize(n * n_kv);
    s.v.resize(n * n_kv);
    s.attn.resize(n * n_q);
    s.proj.resize(n * c.n_embd);
    s.gate.resize(n * c.n_ff);
    s.up.resize(n * c.n_ff);
}

// cos and sin for every row at its own sequence's position. The angles are
// those of make_rope_table(), computed in double for the same reason, but
// into buffers that outlive the call.
void fill_rope_rows(const ModelConfig& c, const ModelWeights& w, int64_t n_rows, BatchScratch& s) {
    const int n_pairs = c.n_rot / 2;
    const auto pairs = static_cast<size_t>(n_pairs);
    s.rope_freq.resize(pairs);
    for (size_t i = 0; i < pairs; ++i) {
        s.rope_freq[i] = std::pow(static_cast<double>(c.rope_freq_base), -2.0 * static_cast<double>(i) / c.n_rot);
        if (!w.rope_freqs.empty()) s.rope_freq[i] /= w.rope_freqs[i];
    }

    s.rope.n_pairs = n_pairs;
    s.rope.cos.resize(static_cast<size_t>(n_rows) * pairs);
    s.rope.sin.resize(static_cast<size_t>(n_rows) * pairs);
    for (const BatchPiece& piece : s.pieces) {
        for (int64_t t = 0; t < piece.n_tokens; ++t) {
            const auto pos = static_cast<double>(piece.pos0 + t);
            const size_t row = static_cast<size_t>(piece.row0 + t) * pairs;
            for (size_t i = 0; i < pairs; ++i) {
                const double theta = pos * s.rope_freq[i];
                s.rope.cos[row + i] = static_cast<float>(std::cos(theta));
                s.rope.sin[row + i] = static_cast<float>(std::sin(theta));
            }
        }
    }
}

// Softmax of column r of scores [n_keys × n_cols] over its first n_visible
// rows, zeroing the rows below. The arithmetic is attend_chunk()'s
// (exp_nonpositive, a double sum), so both paths round alike.
void causal_softmax_column(float* scores, int64_t n_cols, int64_t r, int64_t n_visible, int64_t n_keys) {
    float* column = scores + r;
    if (n_cols == 1) {
        // One query (a decode step): the column is contiguous.
        softmax_in_place(column, n_visible);
        std::fill(column + n_visible, column + n_keys, 0.0f);
        return;
    }

    float max_score = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n_visible; ++j) max_score = std::max(max_score, column[j * n_cols]);

    double sum = 0.0;
    for (int64_t j = 0; j < n_visible; ++j) {
        float& p = column[j * n_cols];
        p = exp_nonpositive(p - max_score);
        sum += p;
    }
    const auto inv_sum = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < n_visible; ++j) column[j * n_cols] *= inv_sum;
    for (int64_t j = n_visible; j < n_keys; ++j) column[j * n_cols] = 0.0f;
}

// Inputs shared by every attention work item of one layer.
struct AttentionContext {
    const ModelConfig* config;
    const BatchScratch* scratch;
    std::span<KvCache* const> caches;
    int il;
    float scale;   // 1 / sqrt(head_dim)
    float* out;    // scratch.attn
};

// Per thread: the item's transposed queries, scores and outputs. They only
// grow, so decoding does not allocate or zero them per token.
struct AttentionBuffers {
    std::vector<float> q_t;     // [head_dim × rows]
    std::vector<float> scores;  // [n_keys × rows]
    std::vector<float> out;     // [rows × head_dim]
};

float* at_least(std::vector<float>& buffer, int64_t n) {
    if (buffer.size() < static_cast<size_t>(n)) buffer.resize(static_cast<size_t>(n));
    return buffer.data();
}

// Attention of a block of one piece's tokens over one KV head. The group's
// query heads are stacked with the block's tokens into one query matrix of
// rows = tokens · group, so they share one pass over the keys and values.
//
// The scores are computed keys-major, [n_keys × rows] = K · Qᵀ. With few
// rows (3 while decoding SmolLM2), OpenBLAS 0.3.21 runs that product and
// Pᵀ · V through its small-matrix kernels, which read K and V in place. The
// queries-major Q · Kᵀ copied every key into a packing buffer first, and a
// decode step of 48 sequences with 430 to 3,250 cached rows took about 20%
// longer (SmolLM2-135M, 2 threads, perf on the shared 2-core build machine).
void attend_item(const AttentionContext& ctx, const BatchAttentionItem& item, AttentionBuffers& buffers) {
    const ModelConfig& c = *ctx.config;
    const BatchPiece& piece = ctx.scratch->pieces[static_cast<size_t>(item.piece)];
    const KvCache& cache = *ctx.caches[static_cast<size_t>(piece.seq)];
    const int head_dim = c.head_dim;
    const int group = c.n_head / c.n_head_kv;
    const int64_t row_stride = static_cast<int64_t>(c.n_head) * head_dim;
    const int64_t group_width = static_cast<int64_t>(group) * head_dim;

    // The piece's own rows are the last n_tokens of the head (appended just
    // before), and only rows up to the block's last token are visible to it.
    const int64_t n_old = cache.length(ctx.il, item.h) - piece.n_tokens;
    const int64_t n_keys = n_old + item.t1;
    const int64_t n_block = item.t1 - item.t0;
    const int64_t n_rows = n_block * group;
    const auto ld_rows = static_cast<blasint>(n_rows);
    const float* keys = cache.keys(ctx.il, item.h).data();
    const float* values = cache.values(ctx.il, item.h).data();

    // Transposed queries: column (t − t0) · group + j is query head
    // h · group + j of token t.
    const float* q_first = ctx.scratch->q.data() + (piece.row0 + item.t0) * row_stride + item.h * group_width;
    float* q_t = at_least(buffers.q_t, n_rows * head_dim);
    for (int64_t t = 0; t < n_block; ++t) {
        for (int j = 0; j < group; ++j) {
            const float* q_head = q_first + t * row_stride + static_cast<int64_t>(j) * head_dim;
            const int64_t col = t * group + j;
            for (int d = 0; d < head_dim; ++d) q_t[d * n_rows + col] = q_head[d];
        }
    }

    // Scores: [n_keys × n_rows] = K · Qᵀ · scale
    float* scores = at_least(buffers.scores, n_keys * n_rows);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(n_keys), ld_rows, head_dim,
                ctx.scale, keys, head_dim, q_t, ld_rows, 0.0f, scores, ld_rows);

    // Causal softmax: token t attends to the old rows and the piece's rows up to itself
    for (int64_t r = 0; r < n_rows; ++r) {
        const int64_t t = item.t0 + r / group;
        causal_softmax_column(scores, n_rows, r, n_old + t + 1, n_keys);
    }

    // Output: [n_rows × head_dim] = Pᵀ · V. A single token's group is
    // contiguous in the token-major output, so it is written in place.
    float* out_first = ctx.out + (piece.row0 + item.t0) * row_stride + item.h * group_width;
    float* out_rows = n_block == 1 ? out_first : at_least(buffers.out, n_rows * head_dim);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ld_rows, head_dim, static_cast<blasint>(n_keys), 1.0f,
                scores, ld_rows, values, head_dim, 0.0f, out_rows, head_dim);

    // Unstack the outputs into the token-major layout the output projection reads
    if (n_block > 1) {
        for (int64_t t = 0; t < n_block; ++t) {
            std::copy_n(out_rows + t * group_width, group_width, out_first + t * row_stride);
        }
    }
}

// Attention of every piece over its own cache, spread over the pool by
// (piece, KV head, token block), so that a batch of one-token sequences
// costs one dispatch per layer instead of one per sequence.
void attend_pieces(const ModelConfig& c, std::span<KvCache* const> caches, int il, ThreadPool& pool,
                   BatchScratch& s) {
    s.items.clear();
    for (size_t p = 0; p < s.pieces.size(); ++p) {
        for (int h = 0; h < c.n_head_kv; ++h) {
            for (int64_t t0 = 0; t0 < s.pieces[p].n_tokens; t0 += kAttentionTokens) {
                const int64_t t1 = std::min(t0 + kAttentionTokens, s.pieces[p].n_tokens);
                s.items.push_back({static_cast<int32_t>(p), h, t0, t1});
            }
        }
    }

    const AttentionContext ctx{&c, &s, caches, il, 1.0f / std::sqrt(static_cast<float>(c.head_dim)), s.attn.data()};
    // One captured reference fits std::function's local storage, so wrapping
    // the task does not allocate.
    pool.parallel_for(static_cast<int64_t>(s.items.size()), [&ctx](int64_t i) {
        thread_local AttentionBuffers buffers;
        attend_item(ctx, ctx.scratch->items[static_cast<size_t>(i)], buffers);
    });
}

void attention_block(const ModelConfig& c, const LayerWeights& w, int il, int64_t n_rows,
                     std::span<KvCache* const> caches, ThreadPool& pool, BatchScratch& s) {
    const int64_t n_kv = static_cast<int64_t>(c.n_head_kv) * c.head_dim;

    // Attention norm and Q/K/V projections over the rows of all sequences
    rms_norm(s.x.data(), w.attn_norm.data(), n_rows, c.n_embd, c.rms_norm_eps, s.xn.data(), pool);
    linear(s.xn.data(), n_rows, w.wq, bias_or_null(w.bq), s.q.data(), pool);
    linear(s.xn.data(), n_rows, w.wk, bias_or_null(w.bk), s.k.data(), pool);
    linear(s.xn.data(), n_rows, w.wv, bias_or_null(w.bv), s.v.data(), pool);

    // RoPE, each row at its own position through the per-row table
    apply_rope(s.q.data(), n_rows, c.n_head, c.head_dim, c.rope_mode, s.rope);
    apply_rope(s.k.data(), n_rows, c.n_head_kv, c.head_dim, c.rope_mode, s.rope);

    // Each piece's keys and values join its own cache, then attention
    for (const BatchPiece& piece : s.pieces) {
        caches[static_cast<size_t>(piece.seq)]->append(il, s.k.data() + piece.row0 * n_kv,
                                                       s.v.data() + piece.row0 * n_kv, piece.n_tokens, piece.pos0);
    }
    attend_pieces(c, caches, il, pool, s);

    // Output projection and residual
    linear(s.attn.data(), n_rows, w.wo, nullptr, s.proj.data(), pool);
    add_in_place(s.x.data(), s.proj.data(), n_rows * c.n_embd, pool);
}

void mlp_block(const ModelConfig& c, const LayerWeights& w, int64_t n_rows, ThreadPool& pool, BatchScratch& s) {
    // FFN norm, then SwiGLU: down(silu(gate(x)) · up(x))
    rms_norm(s.x.data(), w.ffn_norm.data(), n_rows, c.n_embd, c.rms_norm_eps, s.xn.data(), pool);
    linear(s.xn.data(), n_rows, w.w_gate, nullptr, s.gate.data(), pool);
    linear(s.xn.data(), n_rows, w.w_up, nullptr, s.up.data(), pool);
    swiglu(s.gate.data(), s.up.data(), n_rows * c.n_ff, pool);
    linear(s.gate.data(), n_rows, w.w_down, nullptr, s.proj.data(), pool);

    // Residual
    add_in_place(s.x.data(), s.proj.data(), n_rows * c.n_embd, pool);
}

// Run the pieces in s.pieces (at most one per sequence) through every layer
// and advance their caches. When logit_rows is set, the normalized rows that
// give logits go to s.last_hidden.
void run_pass(const ModelConfig& c, const ModelWeights& w, std::span<const std::span<const int32_t>> tokens,
              std::span<KvCache* const> caches, const LogitRows* logit_rows, ThreadPool& pool, BatchScratch& s) {
    const size_t n_embd = static_cast<size_t>(c.n_embd);
    int64_t n_rows = 0;
    for (BatchPiece& piece : s.pieces) {
        piece.row0 = n_rows;
        piece.pos0 = caches[static_cast<size_t>(piece.seq)]->next_pos();
        n_rows += piece.n_tokens;
    }
    resize_scratch(c, n_rows, s);
    fill_rope_rows(c, w, n_rows, s);

    // Token embedding
    for (const BatchPiece& piece : s.pieces) {
        const std::span<const int32_t> seq_tokens = tokens[static_cast<size_t>(piece.seq)];
        for (int64_t t = 0; t < piece.n_tokens; ++t) {
            const int64_t id = seq_tokens[static_cast<size_t>(piece.offset + t)];
            w.token_embd.dequantize_rows(id, id + 1, s.x.data() + static_cast<size_t>(piece.row0 + t) * n_embd);
        }
    }

    // Layers
    for (int il = 0; il < c.n_layer; ++il) {
        const LayerWeights& layer = w.layers[static_cast<size_t>(il)];
        attention_block(c, layer, il, n_rows, caches, pool, s);
        mlp_block(c, layer, n_rows, pool, s);
    }
    for (const BatchPiece& piece : s.pieces) caches[static_cast<size_t>(piece.seq)]->advance(piece.n_tokens);

    // Output norm of the rows that give logits: each sequence's last
    // logit_rows->count[seq] tokens, which may start in an earlier pass.
    if (logit_rows == nullptr) return;
    for (const BatchPiece& piece : s.pieces) {
        const auto seq = static_cast<size_t>(piece.seq);
        const auto n_seq_tokens = static_cast<int64_t>(tokens[seq].size());
        const int64_t first_logit_token = n_seq_tokens - logit_rows->count[seq];
        for (int64_t t = std::max<int64_t>(0, first_logit_token - piece.offset); t < piece.n_tokens; ++t) {
            const float* row = s.x.data() + static_cast<size_t>(piece.row0 + t) * n_embd;
            const int64_t out_row = logit_rows->first_row[seq] + piece.offset + t - first_logit_token;
            rms_norm(row, w.output_norm.data(), 1, c.n_embd, c.rms_norm_eps,
                     s.last_hidden.data() + static_cast<size_t>(out_row) * n_embd, pool);
        }
    }
}

}  // namespace

void forward_batch(const ModelConfig& config, const ModelWeights& weights,
                   std::span<const std::span<const int32_t>> tokens, std::span<KvCache* const> caches,
                   ThreadPool& pool, BatchScratch& scratch, std::vector<float>* logits,
                   std::span<const int64_t> n_logit_rows) {
    check_batch(config, tokens, caches);
    check_logit_rows(tokens, n_logit_rows);
    const auto n_seq = static_cast<int64_t>(tokens.size());
    if (n_seq == 0) {
        if (logits != nullptr) logits->clear();
        return;
    }

    // First row of each sequence's logit rows in last_hidden and in the output.
    LogitRows logit_rows;
    int64_t n_out_rows = 0;
    if (logits != nullptr) {
        for (int64_t seq = 0; seq < n_seq; ++seq) {
            const int64_t count = n_logit_rows.empty() ? 1 : n_logit_rows[static_cast<size_t>(seq)];
            logit_rows.count.push_back(count);
            logit_rows.first_row.push_back(n_out_rows);
            n_out_rows += count;
        }
        scratch.last_hidden.resize(static_cast<size_t>(n_out_rows) * config.n_embd);
    }
    const LogitRows* want_logits = logits != nullptr ? &logit_rows : nullptr;

    // Fill passes of up to kMaxBatchRows rows with whole sequences, splitting
    // one across passes where it does not fit. A split sequence continues at
    // the start of the next pass, so no pass contains two pieces of it.
    scratch.pieces.clear();
    int64_t rows_in_pass = 0;
    for (int64_t seq = 0; seq < n_seq; ++seq) {
        const auto n_tokens = static_cast<int64_t>(tokens[static_cast<size_t>(seq)].size());
        for (int64_t offset = 0; offset < n_tokens;) {
            const int64_t take = std::min(n_tokens - offset, kMaxBatchRows - rows_in_pass);
            scratch.pieces.push_back({seq, offset, take, 0, 0, offset + take == n_tokens});
            offset += take;
            rows_in_pass += take;
            if (rows_in_pass == kMaxBatchRows) {
                run_pass(config, weights, tokens, caches, want_logits, pool, scratch);
                scratch.pieces.clear();
                rows_in_pass = 0;
            }
        }
    }
    if (!scratch.pieces.empty()) run_pass(config, weights, tokens, caches, want_logits, pool, scratch);

    // Logits of every sequence's last tokens in one product
    if (want_logits == nullptr) return;
    logits->resize(static_cast<size_t>(n_out_rows) * config.n_vocab);
    linear(scratch.last_hidden.data(), n_out_rows, weights.output_head(), nullptr, logits->data(), pool);
}

}  // namespace compactor
