#include "kv/kv_cache.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace compactor {

namespace {

// Move the rows at `keep` (strictly increasing) of a [length × width] array
// to its front in order, then shrink it to the kept rows and free the rest.
template <typename T>
void compact_rows(std::vector<T>& rows, std::span<const int64_t> keep, size_t width) {
    for (size_t i = 0; i < keep.size(); ++i) {
        const size_t src = static_cast<size_t>(keep[i]) * width;
        const size_t dst = i * width;
        // keep[i] >= i because the indices are strictly increasing, so a
        // forward copy never overwrites a row that is still to be moved.
        if (src != dst) {
            std::copy(rows.begin() + static_cast<std::ptrdiff_t>(src),
                      rows.begin() + static_cast<std::ptrdiff_t>(src + width),
                      rows.begin() + static_cast<std::ptrdiff_t>(dst));
        }
    }
    rows.resize(keep.size() * width);
    rows.shrink_to_fit();
}

// Copy the rows at `keep` of a [length × width] array into `to`, in order,
// leaving capacity for n_room more rows.
template <typename T>
void gather_into(const std::vector<T>& from, std::span<const int64_t> keep, size_t width, int64_t n_room,
                 std::vector<T>& to) {
    to.clear();
    to.reserve((keep.size() + static_cast<size_t>(n_room)) * width);
    for (const int64_t index : keep) {
        const auto row = from.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(index) * width);
        to.insert(to.end(), row, row + static_cast<std::ptrdiff_t>(width));
    }
}

// Throws std::invalid_argument unless `keep` is strictly increasing and
// inside [0, n_rows). `caller` names the method in the message.
void check_keep(std::span<const int64_t> keep, int64_t n_rows, int il, int h, const char* caller) {
    for (size_t i = 0; i < keep.size(); ++i) {
        if (keep[i] < 0 || keep[i] >= n_rows) {
            throw std::invalid_argument(fmt::format(
                "KvCache::{}: index {} (entry {}) is out of range for layer {} head {} "
                "with {} rows",
                caller, keep[i], i, il, h, n_rows));
        }
        if (i > 0 && keep[i] <= keep[i - 1]) {
            throw std::invalid_argument(fmt::format(
                "KvCache::{}: indices must be strictly increasing, but entry {} is {} after {} "
                "(layer {} head {}); sort and deduplicate them first",
                caller, i, keep[i], keep[i - 1], il, h));
        }
    }
}

}  // namespace

KvCache::KvCache(int n_layer, int n_head_kv, int head_dim, int64_t reserve_tokens)
    : n_layer_(n_layer), n_head_kv_(n_head_kv), head_dim_(head_dim) {
    if (n_layer <= 0 || n_head_kv <= 0 || head_dim <= 0) {
        throw std::invalid_argument(fmt::format(
            "KvCache: n_layer ({}), n_head_kv ({}) and head_dim ({}) must all be positive",
            n_layer, n_head_kv, head_dim));
    }
    if (reserve_tokens < 0) {
        throw std::invalid_argument(
            fmt::format("KvCache: reserve_tokens is {}, expected >= 0", reserve_tokens));
    }

    heads_.resize(static_cast<size_t>(n_layer) * static_cast<size_t>(n_head_kv));
    const size_t reserve_rows = static_cast<size_t>(reserve_tokens);
    for (Head& hd : heads_) {
        hd.k.reserve(reserve_rows * static_cast<size_t>(head_dim));
        hd.v.reserve(reserve_rows * static_cast<size_t>(head_dim));
        hd.pos.reserve(reserve_rows);
    }
}

void KvCache::check_head(int il, int h) const {
    if (il < 0 || il >= n_layer_) {
        throw std::invalid_argument(
            fmt::format("KvCache: layer {} is out of range, the cache has {} layers", il, n_layer_));
    }
    if (h < 0 || h >= n_head_kv_) {
        throw std::invalid_argument(fmt::format(
            "KvCache: KV head {} is out of range, the cache has {} KV heads per layer", h, n_head_kv_));
    }
}

int64_t KvCache::length(int il, int h) const {
    check_head(il, h);
    return static_cast<int64_t>(head(il, h).pos.size());
}

int64_t KvCache::max_length() const {
    int64_t longest = 0;
    for (const Head& hd : heads_) longest = std::max(longest, static_cast<int64_t>(hd.pos.size()));
    return longest;
}

int64_t KvCache::total_rows() const {
    int64_t rows = 0;
    for (const Head& hd : heads_) rows += static_cast<int64_t>(hd.pos.size());
    return rows;
}

std::span<const float> KvCache::keys(int il, int h) const {
    check_head(il, h);
    return head(il, h).k;
}

std::span<const float> KvCache::values(int il, int h) const {
    check_head(il, h);
    return head(il, h).v;
}

std::span<const int32_t> KvCache::positions(int il, int h) const {
    check_head(il, h);
    return head(il, h).pos;
}

std::span<float> KvCache::keys(int il, int h) {
    check_head(il, h);
    return head(il, h).k;
}

std::span<float> KvCache::values(int il, int h) {
    check_head(il, h);
    return head(il, h).v;
}

void KvCache::append(int il, const float* k, const float* v, int64_t n_tokens, int64_t pos0) {
    check_head(il, 0);
    if (n_tokens < 0 || pos0 < 0) {
        throw std::invalid_argument(fmt::format(
            "KvCache::append: n_tokens ({}) and pos0 ({}) must be >= 0", n_tokens, pos0));
    }
    if (n_tokens > 0 && (k == nullptr || v == nullptr)) {
        throw std::invalid_argument("KvCache::append: keys and values must be non-null");
    }
    if (pos0 + n_tokens > static_cast<int64_t>(std::numeric_limits<int32_t>::max())) {
        throw std::invalid_argument(fmt::format(
            "KvCache::append: position {} does not fit the int32 position store", pos0 + n_tokens - 1));
    }

    const size_t row = static_cast<size_t>(head_dim_);
    const size_t token_stride = static_cast<size_t>(n_head_kv_) * row;
    for (int h = 0; h < n_head_kv_; ++h) {
        Head& hd = head(il, h);
        const size_t old_rows = hd.pos.size();
        hd.k.resize((old_rows + static_cast<size_t>(n_tokens)) * row);
        hd.v.resize((old_rows + static_cast<size_t>(n_tokens)) * row);

        // Input is token-major [n_tokens × n_head_kv × head_dim]; each head
        // gathers its own slice of every token.
        for (int64_t t = 0; t < n_tokens; ++t) {
            const size_t src = static_cast<size_t>(t) * token_stride + static_cast<size_t>(h) * row;
            const size_t dst = (old_rows + static_cast<size_t>(t)) * row;
            std::copy(k + src, k + src + row, hd.k.begin() + static_cast<std::ptrdiff_t>(dst));
            std::copy(v + src, v + src + row, hd.v.begin() + static_cast<std::ptrdiff_t>(dst));
            hd.pos.push_back(static_cast<int32_t>(pos0 + t));
        }
    }
}

void KvCache::advance(int64_t n_tokens) {
    if (n_tokens < 0) {
        throw std::invalid_argument(
            fmt::format("KvCache::advance: n_tokens is {}, expected >= 0", n_tokens));
    }
    next_pos_ += n_tokens;
}

void KvCache::reserve(int64_t n_rows) {
    if (n_rows < 0) {
        throw std::invalid_argument(fmt::format("KvCache::reserve: n_rows is {}, expected >= 0", n_rows));
    }
    const size_t row = static_cast<size_t>(head_dim_);
    for (Head& hd : heads_) {
        const size_t rows = hd.pos.size() + static_cast<size_t>(n_rows);
        hd.k.reserve(rows * row);
        hd.v.reserve(rows * row);
        hd.pos.reserve(rows);
    }
}

void KvCache::compact(int il, int h, std::span<const int64_t> keep) {
    check_head(il, h);
    Head& hd = head(il, h);
    check_keep(keep, static_cast<int64_t>(hd.pos.size()), il, h, "compact");

    compact_rows(hd.k, keep, static_cast<size_t>(head_dim_));
    compact_rows(hd.v, keep, static_cast<size_t>(head_dim_));
    compact_rows(hd.pos, keep, 1);
}

void KvCache::gather_rows(int il, int h, const KvCache& source, std::span<const int64_t> keep, int64_t n_room) {
    check_head(il, h);
    if (source.n_layer_ != n_layer_ || source.n_head_kv_ != n_head_kv_ || source.head_dim_ != head_dim_) {
        throw std::invalid_argument(fmt::format(
            "KvCache::gather_rows: the source has {} layers, {} KV heads and head_dim {}, but this cache has {}, "
            "{} and {}; gather from a cache of the same model",
            source.n_layer_, source.n_head_kv_, source.head_dim_, n_layer_, n_head_kv_, head_dim_));
    }
    if (n_room < 0) {
        throw std::invalid_argument(fmt::format("KvCache::gather_rows: n_room is {}, expected >= 0", n_room));
    }
    const Head& from = source.head(il, h);
    check_keep(keep, static_cast<int64_t>(from.pos.size()), il, h, "gather_rows");

    Head& to = head(il, h);
    gather_into(from.k, keep, static_cast<size_t>(head_dim_), n_room, to.k);
    gather_into(from.v, keep, static_cast<size_t>(head_dim_), n_room, to.v);
    gather_into(from.pos, keep, 1, n_room, to.pos);
}

KvCache KvCache::empty_like() const {
    KvCache empty;
    empty.n_layer_ = n_layer_;
    empty.n_head_kv_ = n_head_kv_;
    empty.head_dim_ = head_dim_;
    empty.next_pos_ = next_pos_;
    empty.heads_.resize(heads_.size());
    return empty;
}

size_t KvCache::size_bytes() const {
    return static_cast<size_t>(total_rows()) * static_cast<size_t>(head_dim_) * 2 * sizeof(float);
}

void KvCache::clear() {
    for (Head& hd : heads_) {
        hd.k.clear();
        hd.v.clear();
        hd.pos.clear();
    }
    next_pos_ = 0;
}

void KvCache::rewind(int64_t pos) {
    if (pos < 0 || pos > next_pos_) {
        throw std::invalid_argument(fmt::format(
            "KvCache::rewind: position {} is outside [0, {}], the positions appended so far", pos, next_pos_));
    }
    const size_t row = static_cast<size_t>(head_dim_);
    for (Head& hd : heads_) {
        size_t n_keep = hd.pos.size();
        while (n_keep > 0 && hd.pos[n_keep - 1] >= pos) --n_keep;
        hd.k.resize(n_keep * row);
        hd.v.resize(n_keep * row);
        hd.pos.resize(n_keep);
    }
    next_pos_ = pos;
}

KvCache KvCache::copy_with_room(int64_t n_rows) const {
    if (n_rows < 0) {
        throw std::invalid_argument(fmt::format("KvCache::copy_with_room: n_rows is {}, expected >= 0", n_rows));
    }
    KvCache copy = empty_like();
    const size_t row = static_cast<size_t>(head_dim_);
    for (size_t i = 0; i < heads_.size(); ++i) {
        const Head& from = heads_[i];
        Head& to = copy.heads_[i];
        const size_t rows = from.pos.size() + static_cast<size_t>(n_rows);
        to.k.reserve(rows * row);
        to.v.reserve(rows * row);
        to.pos.reserve(rows);
        to.k.assign(from.k.begin(), from.k.end());
        to.v.assign(from.v.begin(), from.v.end());
        to.pos.assign(from.pos.begin(), from.pos.end());
    }
    return copy;
}

}  // namespace compactor
