// compactor-test-libs: compactor_gguf
//
// Malformed GGUF files raise GgufError naming the field and its byte offset;
// none may crash the reader or make it allocate for a forged count.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/dequant.h"
#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"

namespace {

using namespace compactor::test;
using compactor::gguf::GgufError;
using compactor::gguf::GgufFile;

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();

template <typename T>
void patch(std::vector<uint8_t>& bytes, size_t at, T value) {
    ASSERT_LE(at + sizeof(T), bytes.size());
    std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// Parse `bytes` and return the GgufError message. The test fails when the
// parse succeeds, and any other exception escapes to gtest.
std::string parse_error(const std::vector<uint8_t>& bytes) {
    try {
        GgufFile::from_memory(bytes.data(), bytes.size());
    } catch (const GgufError& e) {
        return e.what();
    }
    ADD_FAILURE() << "the file was accepted";
    return "";
}

#define EXPECT_CONTAINS(text, part) \
    EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

// A small valid file: metadata of several types and two tensors. The last
// tensor's data fills whole alignment units, so the file ends with it and
// every shorter prefix is invalid.
GgufWriter small_model() {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 2);
    w.add_f32("llama.rope.freq_base", 10000.0f);
    w.add_string("general.name", "tiny");
    w.add_strings("tokenizer.ggml.tokens", {"<s>", "a", "bc"});
    w.add("nested", value_array(ValueType::ARRAY, {value_i32s({1, 2})}));
    w.add_bool("flag", true);
    std::vector<float> q(64, 0.5f);
    w.add_tensor("blk.0.attn_q.weight", GgmlType::Q4_1, {32, 2}, q);
    std::vector<float> norm(32, 1.0f);
    w.add_tensor("blk.0.attn_norm.weight", GgmlType::F32, {32}, norm);
    return w;
}

TEST(GgufMalformed, SmallModelIsValid) {
    const std::vector<uint8_t> bytes = small_model().to_bytes();
    const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
    EXPECT_EQ(f->tensors().size(), 2u);
    EXPECT_EQ(f->metadata().size(), 7u);
}

TEST(GgufMalformed, EveryTruncationThrows) {
    WriterLayout layout;
    const std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    ASSERT_EQ(layout.data_at.back() + 128, bytes.size());

    for (size_t n = 0; n < bytes.size(); ++n) {
        // An exact-size copy, so a read past the prefix would leave the buffer.
        const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_THROW(GgufFile::from_memory(prefix.data(), prefix.size()), GgufError)
            << "prefix of " << n << " bytes";
    }
}

TEST(GgufMalformed, TruncationMessageNamesField) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    bytes.resize(layout.value_at[6]);  // just before the bool of key #6
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "metadata key #6 'flag' bool value");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(layout.value_at[6]));
    EXPECT_CONTAINS(message, "runs past the end of the file");
}

TEST(GgufMalformed, EmptyInput) {
    EXPECT_CONTAINS(parse_error({}), "magic");
}

TEST(GgufMalformed, WrongMagic) {
    std::vector<uint8_t> bytes = small_model().to_bytes();
    bytes[0] = 'X';
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "magic");
    EXPECT_CONTAINS(message, "not a GGUF model");
}

TEST(GgufMalformed, Version1Rejected) {
    GgufWriter w = small_model();
    w.version = 1;
    const std::string message = parse_error(w.to_bytes());
    EXPECT_CONTAINS(message, "version 1");
    EXPECT_CONTAINS(message, "not supported");
}

TEST(GgufMalformed, UnknownVersion) {
    GgufWriter w = small_model();
    w.version = 4;
    const std::string message = parse_error(w.to_bytes());
    EXPECT_CONTAINS(message, "version 4");
    EXPECT_CONTAINS(message, "at byte offset 4");
    EXPECT_CONTAINS(message, "unknown");
}

TEST(GgufMalformed, BigEndianVersionExplained) {
    GgufWriter w = small_model();
    w.version = 0x03000000;
    EXPECT_CONTAINS(parse_error(w.to_bytes()), "big-endian");
}

TEST(GgufMalformed, HugeMetadataCount) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.n_kv_at, kMax64);
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "metadata key count 18446744073709551615");
    EXPECT_CONTAINS(message, "at byte offset 16");
}

TEST(GgufMalformed, HugeTensorCount) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.n_tensors_at, uint64_t{1} << 60);
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "tensor count 1152921504606846976");
    EXPECT_CONTAINS(message, "at byte offset 8");
}

TEST(GgufMalformed, OversizedKeyLength) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.key_at[3], kMax64);
    EXPECT_EQ(parse_error(bytes),
              "GGUF: metadata key #3 key string length 18446744073709551615 at byte offset " +
                  std::to_string(layout.key_at[3]) + " runs past the end of the file (size " +
                  std::to_string(bytes.size()) + ")");
}

TEST(GgufMalformed, OversizedStringValueLength) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.value_at[3], uint64_t{bytes.size()});
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "metadata key #3 'general.name' string length");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(layout.value_at[3]));
}

TEST(GgufMalformed, UnknownValueType) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.value_type_at[2], uint32_t{13});
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "metadata key #2 'llama.rope.freq_base' value type 13");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(layout.value_type_at[2]));
}

TEST(GgufMalformed, UnknownArrayElementType) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.value_at[4], uint32_t{99});
    EXPECT_CONTAINS(parse_error(bytes), "array element type 99");
}

TEST(GgufMalformed, HugeArrayCount) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    const size_t count_at = layout.value_at[4] + 4;  // after the element type
    patch(bytes, count_at, uint64_t{1} << 62);
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "'tokenizer.ggml.tokens' array count 4611686018427387904");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(count_at));
}

TEST(GgufMalformed, HugeNestedArrayCount) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    const size_t inner_count_at = layout.value_at[5] + 4 + 8 + 4;  // outer type and count, then inner type
    patch(bytes, inner_count_at, kMax64);
    EXPECT_CONTAINS(parse_error(bytes), "array count 18446744073709551615");
}

TEST(GgufMalformed, ArraysNestedTooDeep) {
    Value v = value_u8(1);
    for (int level = 0; level < 40; ++level) v = value_array(v.type, {v});
    GgufWriter w;
    w.add("deep", v);
    EXPECT_CONTAINS(parse_error(w.to_bytes()), "nested deeper");
}

TEST(GgufMalformed, InvalidBool) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    bytes[layout.value_at[6]] = 2;
    EXPECT_CONTAINS(parse_error(bytes), "bool value 2");
}

TEST(GgufMalformed, DuplicateKey) {
    GgufWriter w = small_model();
    w.add_u32("llama.block_count", 3);
    EXPECT_CONTAINS(parse_error(w.to_bytes()), "'llama.block_count' key");
    EXPECT_CONTAINS(parse_error(w.to_bytes()), "duplicate");
}

TEST(GgufMalformed, DuplicateTensorName) {
    GgufWriter w = small_model();
    std::vector<float> norm(32, 1.0f);
    w.add_tensor("blk.0.attn_norm.weight", GgmlType::F32, {32}, norm);
    const std::string message = parse_error(w.to_bytes());
    EXPECT_CONTAINS(message, "tensor #2");
    EXPECT_CONTAINS(message, "duplicate");
}

TEST(GgufMalformed, AlignmentMustBePowerOfTwo) {
    for (uint32_t alignment : {0u, 48u}) {
        GgufWriter w = small_model();
        w.add_u32("general.alignment", alignment);
        const std::string message = parse_error(w.to_bytes());
        EXPECT_CONTAINS(message, "general.alignment " + std::to_string(alignment));
        EXPECT_CONTAINS(message, "power of two");
    }
    GgufWriter w = small_model();
    w.add_string("general.alignment", "32");
    EXPECT_CONTAINS(parse_error(w.to_bytes()), "general.alignment");
}

TEST(GgufMalformed, TensorDataPastEnd) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.offset_at[1], uint64_t{1} << 20);
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "tensor #1 'blk.0.attn_norm.weight' data (128 bytes at data offset 1048576)");
    EXPECT_CONTAINS(message, "runs past the end of the file");
}

TEST(GgufMalformed, TensorOffsetNearMaxDoesNotWrap) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.offset_at[1], kMax64 - 31);  // aligned to 32
    EXPECT_CONTAINS(parse_error(bytes), "runs past the end of the file");
}

TEST(GgufMalformed, TruncatedTensorData) {
    std::vector<uint8_t> bytes = small_model().to_bytes();
    bytes.resize(bytes.size() - 1);
    EXPECT_CONTAINS(parse_error(bytes), "'blk.0.attn_norm.weight' data (128 bytes");
}

TEST(GgufMalformed, MisalignedTensorOffset) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.offset_at[1], uint64_t{8});
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "tensor #1 'blk.0.attn_norm.weight' data offset 8");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(layout.offset_at[1]));
    EXPECT_CONTAINS(message, "alignment 32");
}

TEST(GgufMalformed, UnknownTensorType) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.type_at[0], uint32_t{4});  // Q4_2, removed from ggml
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "tensor #0 'blk.0.attn_q.weight' type 4");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(layout.type_at[0]));
}

TEST(GgufMalformed, TooManyDims) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.n_dims_at[0], uint32_t{5});
    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "n_dims 5");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(layout.n_dims_at[0]));
}

TEST(GgufMalformed, NegativeDim) {
    WriterLayout layout;
    std::vector<uint8_t> bytes = small_model().to_bytes(&layout);
    patch(bytes, layout.ne_at[0] + 8, int64_t{-2});
    EXPECT_CONTAINS(parse_error(bytes), "ne[1] -2");
}

TEST(GgufMalformed, ElementCountOverflow) {
    GgufWriter w;
    w.add_tensor_raw("big", GgmlType::F32, {32, int64_t{1} << 40, int64_t{1} << 40}, {});
    EXPECT_CONTAINS(parse_error(w.to_bytes()), "more elements than int64");
}

TEST(GgufMalformed, ByteSizeOverflow) {
    GgufWriter w;
    w.add_tensor_raw("big", GgmlType::F32, {int64_t{1} << 31, int64_t{1} << 31}, {});
    EXPECT_CONTAINS(parse_error(w.to_bytes()), "byte size");
}

TEST(GgufMalformed, RowNotWholeBlocks) {
    GgufWriter w;
    w.add_tensor_raw("odd", GgmlType::Q4_0, {33}, std::vector<uint8_t>(64));
    const std::string message = parse_error(w.to_bytes());
    EXPECT_CONTAINS(message, "ne[0] 33");
    EXPECT_CONTAINS(message, "Q4_0 block size 32");
}

TEST(GgufMalformed, KQuantTensorIsReadButNotDequantized) {
    GgufWriter w;
    w.add_tensor_raw("k", GgmlType::Q4_K, {256, 2}, std::vector<uint8_t>(2 * 144));
    const std::vector<uint8_t> bytes = w.to_bytes();
    const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
    EXPECT_EQ(f->tensor("k").n_bytes, 288u);
    EXPECT_FALSE(compactor::gguf::can_dequantize(f->tensor("k").type));
}

TEST(GgufMalformed, FileErrorNamesPath) {
    GgufWriter w = small_model();
    w.version = 7;
    const std::string path = w.write_temp("gguf-bad-version");
    try {
        GgufFile::open(path);
        ADD_FAILURE() << "version 7 was accepted";
    } catch (const GgufError& e) {
        EXPECT_CONTAINS(e.what(), "version 7");
        EXPECT_CONTAINS(e.what(), path);
    }
    std::remove(path.c_str());
}

TEST(GgufMalformed, EmptyFileOnDisk) {
    const std::string path = GgufWriter().write_temp("gguf-empty");
    std::ofstream(path, std::ios::trunc).close();
    EXPECT_THROW(GgufFile::open(path), GgufError);
    std::remove(path.c_str());
}

// Random byte corruption: each file either parses or raises GgufError.
TEST(GgufMalformed, RandomCorruptionNeverCrashes) {
    const std::vector<uint8_t> clean = small_model().to_bytes();
    std::mt19937 rng(1234);
    std::uniform_int_distribution<size_t> position(0, clean.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    int rejected = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::vector<uint8_t> bytes = clean;
        for (int k = 0; k < 1 + trial % 4; ++k) bytes[position(rng)] = static_cast<uint8_t>(byte(rng));
        try {
            GgufFile::from_memory(bytes.data(), bytes.size());
        } catch (const GgufError&) {
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 300);  // most corruptions hit a checked field
}

}  // namespace

// A file that really contains 2^24 + 1 one-byte elements passes the size
// checks. Parsed, it would need about 50 times its size in memory, so the
// reader rejects it.
TEST(GgufMalformed, TooManyArrayElementsInTotal) {
    const uint64_t count = (uint64_t{1} << 24) + 1;
    std::vector<uint8_t> bytes;
    auto put = [&bytes](const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        bytes.insert(bytes.end(), p, p + n);
    };
    const uint32_t version = 3;
    const uint64_t n_tensors = 0;
    const uint64_t n_kv = 1;
    const uint64_t key_length = 3;
    const uint32_t array_type = 9;
    const uint32_t element_type = 0;  // UINT8
    put("GGUF", 4);
    put(&version, 4);
    put(&n_tensors, 8);
    put(&n_kv, 8);
    put(&key_length, 8);
    put("big", 3);
    put(&array_type, 4);
    put(&element_type, 4);
    const size_t count_at = bytes.size();
    put(&count, 8);
    bytes.resize(bytes.size() + count, 0);

    const std::string message = parse_error(bytes);
    EXPECT_CONTAINS(message, "array count 16777217");
    EXPECT_CONTAINS(message, "at byte offset " + std::to_string(count_at));
    EXPECT_CONTAINS(message, "16777216 elements in total");
}
