// Bounds-checked little-endian reads from an untrusted byte image.
//
// Internal to the GGUF reader. Every read checks the remaining bytes first
// and raises GgufError naming the field, the value where one was read, and the
// byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "gguf/gguf_file.h"

namespace compactor::gguf {

class ByteReader {
public:
    ByteReader(const uint8_t* base, size_t size) : base_(base), size_(size) {}

    // Item being parsed ("metadata key #3 'general.name'"); prefixes errors.
    std::string context;

    size_t offset() const { return pos_; }
    size_t size() const { return size_; }
    size_t remaining() const { return size_ - pos_; }

    uint8_t read_u8(std::string_view field) { return read_scalar<uint8_t>(field); }
    uint16_t read_u16(std::string_view field) { return read_scalar<uint16_t>(field); }
    uint32_t read_u32(std::string_view field) { return read_scalar<uint32_t>(field); }
    uint64_t read_u64(std::string_view field) { return read_scalar<uint64_t>(field); }

    // A GGUF string: uint64 byte length, then that many bytes (not terminated).
    std::string read_string(std::string_view field) {
        const size_t length_offset = pos_;
        const uint64_t length = read_u64(field);
        if (length > remaining()) {
            throw error_at(length_offset, fmt::format("{} length {}", field, length),
                           fmt::format("runs past the end of the file (size {})", size_));
        }
        std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        return s;
    }

    // Check that `count` items of at least `min_item_bytes` each can still fit,
    // so a forged count is rejected before anything is allocated for it.
    void check_count(uint64_t count, size_t min_item_bytes, size_t count_offset,
                     std::string_view field) const {
        if (min_item_bytes != 0 && count > remaining() / min_item_bytes) {
            throw error_at(count_offset, fmt::format("{} {}", field, count), fmt::format(
                "needs at least {} bytes per item, more than the {} bytes left in the file "
                "(size {})", min_item_bytes, remaining(), size_));
        }
    }

    // "GGUF: <context> <subject> at byte offset <offset> <problem>".
    GgufError error_at(size_t offset, std::string_view subject, std::string_view problem) const {
        const std::string prefix = context.empty() ? "" : context + " ";
        return GgufError(fmt::format("GGUF: {}{} at byte offset {} {}", prefix, subject, offset,
                                     problem));
    }

private:
    template <typename T>
    T read_scalar(std::string_view field) {
        if (sizeof(T) > remaining()) {
            throw error_at(pos_, fmt::format("{} ({} bytes)", field, sizeof(T)),
                           fmt::format("runs past the end of the file (size {})", size_));
        }
        T value;
        // GGUF is little-endian, as is every host this project builds for.
        std::memcpy(&value, base_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    const uint8_t* base_;
    size_t size_;
    size_t pos_ = 0;
};

}  // namespace compactor::gguf
