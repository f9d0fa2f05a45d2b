#include "tokenizer/bpe.h"

#include <queue>
#include <stdexcept>

#include <fmt/format.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace compactor {

namespace {

// A symbol of the word being merged: a token (or an unknown character) in a
// doubly linked list over the word's characters.
struct Symbol {
    int32_t id;      // -1 for a character with no token
    size_t start;    // byte range in the word
    size_t length;
    int32_t prev;    // index of the previous live symbol, -1 at the start
    int32_t next;    // index of the next live symbol, -1 at the end
};

// A merge waiting in the queue. It is stale when either symbol has changed
// since it was queued.
struct Candidate {
    int32_t rank;
    int32_t left;     // symbol index; also the position, so equal ranks merge leftmost first
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;

    bool operator>(const Candidate& other) const {
        return rank != other.rank ? rank > other.rank : left > other.left;
    }
};

std::string hex_byte_token(uint8_t byte) { return fmt::format("<0x{:02X}>", byte); }

}  // namespace

BpeModel::BpeModel(const TokenizerVocab& vocab) : unk_id_(vocab.unk_id) {
    token_ids_.reserve(vocab.tokens.size());
    for (size_t i = 0; i < vocab.tokens.size(); ++i) token_ids_[vocab.tokens[i]] = static_cast<int32_t>(i);

    merges_.reserve(vocab.merges.size());
    for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
        const MergeParts parts = split_merge(vocab.merges[rank], rank);
        const int32_t left = find_token(parts.left);
        const int32_t right = find_token(parts.right);
        const int32_t merged = find_token(std::string(parts.left) + std::string(parts.right));
        if (left < 0 || right < 0 || merged < 0) {
            throw std::invalid_argument(fmt::format(
                "tokenizer: merge #{} '{}' names a token that is not in the vocabulary "
                "(left {}, right {}, merged {}); the vocabulary and merges do not belong together",
                rank, vocab.merges[rank], left, right, merged));
        }
        // A repeated pair keeps its first (lowest) rank.
        merges_.try_emplace(pair_key(left, right), Merge{static_cast<int32_t>(rank), merged});
    }

    byte_token_ids_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
        const auto it = token_ids_.find(hex_byte_token(static_cast<uint8_t>(b)));
        if (it != token_ids_.end() && vocab.token_types[it->second] == kTokenTypeByte) byte_token_ids_[b] = it->second;
    }
}

int32_t BpeModel::find_token(std::string_view token) const {
    const auto it = token_ids_.find(token);
    return it == token_ids_.end() ? -1 : it->second;
}

std::vector<int32_t> BpeModel::encode_word(std::string_view word) const {
    {
        std::lock_guard lock(cache_mutex_);
        if (const auto it = cache_.find(word); it != cache_.end()) return it->second;
    }

    std::vector<int32_t> ids = merge_word(word);

    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), ids);
    return ids;
}

std::vector<int32_t> BpeModel::merge_word(std::string_view word) const {
    // One symbol per character.
    std::vector<Symbol> symbols;
    for (size_t pos = 0; pos < word.size();) {
        size_t length = utf8_char_length(word, pos);
        if (length == 0) length = 1;
        const auto index = static_cast<int32_t>(symbols.size());
        symbols.push_back({find_token(word.substr(pos, length)), pos, length, index - 1, index + 1});
        pos += length;
    }
    if (symbols.empty()) return {};
    symbols.back().next = -1;

    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto push_candidate = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = symbols[left].next;
        if (right < 0 || symbols[left].id < 0 || symbols[right].id < 0) return;
        const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
        if (it == merges_.end()) return;
        queue.push({it->second.rank, left, symbols[left].id, symbols[right].id, it->second.merged_id});
    };
    for (int32_t i = 0; i < static_cast<int32_t>(symbols.size()); ++i) push_candidate(i);

    // Merge the best pair until none is left.
    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();

        Symbol& left = symbols[top.left];
        const int32_t right_index = left.next;
        if (left.length == 0 || right_index < 0 || left.id != top.left_id ||
            symbols[right_index].id != top.right_id) {
            continue;
        }

        Symbol& right = symbols[right_index];
        left.id = top.merged_id;
        left.length += right.length;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = top.left;
        right.length = 0;

        push_candidate(left.prev);
        push_candidate(top.left);
    }

    std::vector<int32_t> ids;
    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        if (s.id >= 0) {
            ids.push_back(s.id);
        } else {
            append_fallback(word.substr(s.start, s.length), ids);
        }
    }
    return ids;
}

void BpeModel::append_fallback(std::string_view symbol, std::vector<int32_t>& ids) const {
    for (char c : byte_level_to_bytes(symbol)) {
        const auto byte = static_cast<uint8_t>(c);
        if (byte_token_ids_[byte] >= 0) {
            ids.push_back(byte_token_ids_[byte]);
        } else if (unk_id_ >= 0) {
            ids.push_back(unk_id_);
        } else {
            throw std::runtime_error(fmt::format(
                "tokenizer: byte 0x{:02X} has no token, no <0x{:02X}> byte token and the vocabulary has no "
                "unknown token (tokenizer.ggml.unknown_token_id)", byte, byte));
        }
    }
}

}  // namespace compactor
