// Byte-pair encoding of one pre-tokenized word by merge rank.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace compactor {

class BpeModel {
public:
    // `vocab` must have passed validate_vocab. Throws std::invalid_argument
    // naming the merge whose parts or result are not tokens.
    explicit BpeModel(const TokenizerVocab& vocab);

    // Token ids of one word written in the byte-level alphabet. Starting from
    // single characters, the adjacent pair of lowest merge rank is merged
    // until no pair has a merge; ties go to the leftmost pair. A character
    // with no token of its own falls back to the <0xXX> byte token of its
    // byte, then to the unknown token; std::runtime_error when neither exists.
    // Thread-safe.
    std::vector<int32_t> encode_word(std::string_view word) const;

    // Id of a token string, -1 when the vocabulary has none.
    int32_t find_token(std::string_view token) const;

private:
    struct Merge {
        int32_t rank;
        int32_t merged_id;
    };

    std::vector<int32_t> merge_word(std::string_view word) const;
    void append_fallback(std::string_view symbol, std::vector<int32_t>& ids) const;

    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }

    // Hashes std::string and std::string_view alike, so look-ups need no copy.
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_ids_;
    std::unordered_map<uint64_t, Merge> merges_;  // keyed by pair_key(left id, right id)
    std::vector<int32_t> byte_token_ids_;         // <0xXX> token per byte, -1 when none
    int32_t unk_id_ = -1;

    // Results per word, cleared whole when full: words repeat a lot in text,
    // and a bound keeps memory flat on long inputs.
    static constexpr size_t kCacheCapacity = 32768;
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace compactor
