// The KV cache: per layer and per KV head, post-RoPE key rows, value rows and
// the original position of each row.
//
// Heads may hold different numbers of rows after per-layer (head-adaptive)
// compression, so every (layer, head) pair owns its own arrays. Rows are in
// ascending position order. RoPE is already applied to stored keys, so a new
// token continues at next_pos() whatever was removed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace compactor {

class KvCache {
public:
    KvCache() = default;
    // Empty cache; `reserve_tokens` rows are reserved per head.
    KvCache(int n_layer, int n_head_kv, int head_dim, int64_t reserve_tokens = 0);

    int n_layer() const { return n_layer_; }
    int n_head_kv() const { return n_head_kv_; }
    int head_dim() const { return head_dim_; }

    // Position the next appended token takes (the number of tokens ever
    // appended, counting removed ones).
    int64_t next_pos() const { return next_pos_; }

    // Rows currently stored for one head.
    int64_t length(int il, int h) const;
    // Largest and total row counts over all heads of all layers.
    int64_t max_length() const;
    int64_t total_rows() const;

    // Row-major [length × head_dim] views of one head's keys and values, and
    // its [length] original positions.
    std::span<const float> keys(int il, int h) const;
    std::span<const float> values(int il, int h) const;
    std::span<const int32_t> positions(int il, int h) const;
    std::span<float> keys(int il, int h);
    std::span<float> values(int il, int h);

    // Append n_tokens rows to every head of layer il. `k` and `v` are
    // [n_tokens × n_head_kv × head_dim] (token-major, as the projections
    // produce them); positions are pos0 .. pos0 + n_tokens - 1.
    void append(int il, const float* k, const float* v, int64_t n_tokens, int64_t pos0);
    // Advance next_pos() after all layers of a chunk have been appended.
    void advance(int64_t n_tokens);

    // Make room for n_rows more rows in every head, so appends up to that
    // count do not reallocate. A copied or compacted cache has no spare
    // room, and its first append would otherwise double every head's memory.
    void reserve(int64_t n_rows);

    // Keep only the rows at indices `keep` (strictly increasing, each less
    // than length(il, h)) of one head, moving them to the front in order, in
    // place, and release the freed memory.
    void compact(int il, int h, std::span<const int64_t> keep);

    // Make head (il, h) hold the rows `keep` (as for compact()) of the same
    // head of `source`, a cache of this shape, with room for n_room more rows.
    // Gathering into empty_like() copies only the kept rows, unlike a copy
    // followed by compact().
    void gather_rows(int il, int h, const KvCache& source, std::span<const int64_t> keep, int64_t n_room = 0);

    // A cache with this one's shape and next_pos() and no rows, for
    // gather_rows() to fill.
    KvCache empty_like() const;

    // Bytes of stored keys and values (rows × head_dim × 2 × sizeof(float)),
    // the figure reported to users; positions are bookkeeping and excluded.
    size_t size_bytes() const;

    // Remove every row and reset next_pos() to 0; the shape stays.
    void clear();

    // Undo the appends made since next_pos() was `pos`: remove each head's
    // rows of position >= pos (a tail, since positions rise along a head)
    // and set next_pos() to pos. Capacity stays, so the next appends reuse
    // it. Throws std::invalid_argument for pos outside [0, next_pos()].
    void rewind(int64_t pos);

    // A copy whose heads have room for n_rows more rows, made in one
    // allocation per array. Copying and then calling reserve() would copy
    // every head twice.
    KvCache copy_with_room(int64_t n_rows) const;

private:
    struct Head {
        std::vector<float> k;        // [length × head_dim]
        std::vector<float> v;        // [length × head_dim]
        std::vector<int32_t> pos;    // [length]
    };
    // Throws std::invalid_argument naming il or h when either is out of range.
    void check_head(int il, int h) const;
    Head& head(int il, int h) { return heads_[static_cast<size_t>(il) * n_head_kv_ + h]; }
    const Head& head(int il, int h) const { return heads_[static_cast<size_t>(il) * n_head_kv_ + h]; }

    int n_layer_ = 0;
    int n_head_kv_ = 0;
    int head_dim_ = 0;
    int64_t next_pos_ = 0;
    std::vector<Head> heads_;  // [n_layer × n_head_kv]
};

}  // namespace compactor
