// Parsing of the GGUF layout: header, metadata, tensor infos, data section.
//
//   magic "GGUF" | version u32 | n_tensors u64 | n_kv u64
//   n_kv × (key string, value type u32, value)
//   n_tensors × (name string, n_dims u32, ne u64 × n_dims, type u32, offset u64)
//   padding to the alignment | tensor data
//
// Strings are a u64 byte length followed by the bytes; an array value is an
// element type u32, a u64 count and the elements. Versions 2 and 3 share this
// layout. Version 3 also allows big-endian files, which this reader rejects.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gguf/byte_reader.h"
#include "gguf/dequant.h"
#include "gguf/gguf_file.h"

namespace compactor::gguf {

namespace {

constexpr uint32_t kMinVersion = 2;
constexpr uint32_t kMaxVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;

// Nested arrays recurse once per level, so the cap keeps a forged file from
// exhausting the stack.
constexpr int kMaxArrayDepth = 16;

// Each array element becomes a Value of about 50 bytes, so a forged file of
// one-byte elements would need 50 times its size in memory. The cap bounds that
// to about 1 GiB; real vocabularies (3 arrays of up to 256k tokens plus merges)
// stay far below it.
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 24;

bool is_valid_value_type(uint32_t code) { return code <= static_cast<uint32_t>(ValueType::FLOAT64); }

// Smallest encoding of one element of `type`, for checking counts up front.
size_t min_value_bytes(ValueType type) {
    switch (type) {
        case ValueType::UINT8:
        case ValueType::INT8:
        case ValueType::BOOL: return 1;
        case ValueType::UINT16:
        case ValueType::INT16: return 2;
        case ValueType::UINT32:
        case ValueType::INT32:
        case ValueType::FLOAT32: return 4;
        case ValueType::UINT64:
        case ValueType::INT64:
        case ValueType::FLOAT64:
        case ValueType::STRING: return 8;     // the length alone
        case ValueType::ARRAY: return 4 + 8;  // element type and count
    }
    return 1;
}

ValueType read_value_type(ByteReader& in, std::string_view field) {
    const size_t at = in.offset();
    const uint32_t code = in.read_u32(field);
    if (!is_valid_value_type(code)) {
        throw in.error_at(at, fmt::format("{} {}", field, code),
                          "is unknown (valid value types are 0 to 12)");
    }
    return static_cast<ValueType>(code);
}

Value read_value(ByteReader& in, ValueType type, int depth, uint64_t& n_elements);

// n_elements counts the array elements read so far over the whole file.
Array read_array(ByteReader& in, int depth, uint64_t& n_elements) {
    const size_t array_at = in.offset();
    if (depth >= kMaxArrayDepth) {
        throw in.error_at(array_at, "array", fmt::format(
            "is nested deeper than {} levels", kMaxArrayDepth));
    }

    Array array;
    array.element_type = read_value_type(in, "array element type");
    const size_t count_at = in.offset();
    const uint64_t count = in.read_u64("array count");
    in.check_count(count, min_value_bytes(array.element_type), count_at, "array count");
    if (count > kMaxArrayElements - n_elements) {
        throw in.error_at(count_at, fmt::format("array count {}", count), fmt::format(
            "brings the metadata arrays past {} elements in total, more than any model needs",
            kMaxArrayElements));
    }
    n_elements += count;

    array.elements.reserve(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) {
        array.elements.push_back(read_value(in, array.element_type, depth + 1, n_elements));
    }
    return array;
}

template <typename T>
T read_raw(ByteReader& in, std::string_view field) {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
    uint64_t bits = 0;
    if constexpr (sizeof(T) == 1) bits = in.read_u8(field);
    if constexpr (sizeof(T) == 2) bits = in.read_u16(field);
    if constexpr (sizeof(T) == 4) bits = in.read_u32(field);
    if constexpr (sizeof(T) == 8) bits = in.read_u64(field);
    T value;
    std::memcpy(&value, &bits, sizeof(T));  // little-endian: the low bytes hold the value
    return value;
}

Value read_value(ByteReader& in, ValueType type, int depth, uint64_t& n_elements) {
    Value v;
    v.type = type;
    switch (type) {
        case ValueType::UINT8: v.data = uint64_t{read_raw<uint8_t>(in, "uint8 value")}; break;
        case ValueType::INT8: v.data = int64_t{read_raw<int8_t>(in, "int8 value")}; break;
        case ValueType::UINT16: v.data = uint64_t{read_raw<uint16_t>(in, "uint16 value")}; break;
        case ValueType::INT16: v.data = int64_t{read_raw<int16_t>(in, "int16 value")}; break;
        case ValueType::UINT32: v.data = uint64_t{read_raw<uint32_t>(in, "uint32 value")}; break;
        case ValueType::INT32: v.data = int64_t{read_raw<int32_t>(in, "int32 value")}; break;
        case ValueType::UINT64: v.data = read_raw<uint64_t>(in, "uint64 value"); break;
        case ValueType::INT64: v.data = read_raw<int64_t>(in, "int64 value"); break;
        case ValueType::FLOAT32: v.data = double{read_raw<float>(in, "float32 value")}; break;
        case ValueType::FLOAT64: v.data = read_raw<double>(in, "float64 value"); break;
        case ValueType::BOOL: {
            const size_t at = in.offset();
            const uint8_t b = in.read_u8("bool value");
            if (b > 1) throw in.error_at(at, fmt::format("bool value {}", b), "is neither 0 nor 1");
            v.data = b == 1;
            break;
        }
        case ValueType::STRING: v.data = in.read_string("string"); break;
        case ValueType::ARRAY: v.data = read_array(in, depth, n_elements); break;
    }
    return v;
}

// Check and apply general.alignment (a non-zero power of two).
uint64_t read_alignment(const Value& v) {
    uint64_t alignment = 0;
    try {
        alignment = v.as_uint();
    } catch (const GgufError& e) {
        throw GgufError(fmt::format("{} (key 'general.alignment')", e.what()));
    }
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        throw GgufError(fmt::format("GGUF: general.alignment {} is invalid; it must be a non-zero "
                                    "power of two", alignment));
    }
    return alignment;
}

// Element and byte counts of a tensor, with every product checked for overflow.
void size_tensor(ByteReader& in, size_t info_at, TensorInfo& t) {
    int64_t n_elements = 1;
    for (uint32_t j = 0; j < kMaxDims; ++j) {
        if (t.ne[j] != 0 && n_elements > std::numeric_limits<int64_t>::max() / t.ne[j]) {
            throw in.error_at(info_at, fmt::format("shape [{}, {}, {}, {}]", t.ne[0], t.ne[1],
                                                   t.ne[2], t.ne[3]),
                              "has more elements than int64 can count");
        }
        n_elements *= t.ne[j];
    }

    const int64_t block = block_size(t.type);
    if (t.ne[0] % block != 0) {
        throw in.error_at(info_at, fmt::format("ne[0] {}", t.ne[0]), fmt::format(
            "is not a multiple of the {} block size {}", type_name(t.type), block));
    }

    // n_bytes = row bytes × rows, each factor bounded so the product fits uint64.
    const uint64_t row_bytes = static_cast<uint64_t>(t.ne[0] / block) * type_size(t.type);
    const uint64_t n_rows = static_cast<uint64_t>(n_elements / (t.ne[0] == 0 ? 1 : t.ne[0]));
    if (t.ne[0] == 0) {
        t.n_bytes = 0;
    } else if (row_bytes != 0 && n_rows > std::numeric_limits<uint64_t>::max() / row_bytes) {
        throw in.error_at(info_at, "byte size", "overflows uint64");
    } else {
        t.n_bytes = row_bytes * n_rows;
    }
}

TensorInfo read_tensor_info(ByteReader& in, uint64_t alignment) {
    const size_t info_at = in.offset();
    TensorInfo t;
    t.name = in.read_string("name");
    in.context += fmt::format(" '{}'", t.name);

    const size_t dims_at = in.offset();
    t.n_dims = in.read_u32("n_dims");
    if (t.n_dims > kMaxDims) {
        throw in.error_at(dims_at, fmt::format("n_dims {}", t.n_dims),
                          fmt::format("exceeds the maximum of {}", kMaxDims));
    }
    for (uint32_t j = 0; j < t.n_dims; ++j) {
        const size_t ne_at = in.offset();
        const uint64_t ne = in.read_u64("ne");
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            throw in.error_at(ne_at, fmt::format("ne[{}] {}", j, static_cast<int64_t>(ne)),
                              "is negative");
        }
        t.ne[j] = static_cast<int64_t>(ne);
    }

    const size_t type_at = in.offset();
    const uint32_t type_code = in.read_u32("type");
    if (!is_known_type(type_code)) {
        throw in.error_at(type_at, fmt::format("type {}", type_code),
                          "is not a known ggml tensor type");
    }
    t.type = static_cast<GgmlType>(type_code);

    const size_t offset_at = in.offset();
    t.offset = in.read_u64("data offset");
    if (t.offset % alignment != 0) {
        throw in.error_at(offset_at, fmt::format("data offset {}", t.offset), fmt::format(
            "is not a multiple of the alignment {}", alignment));
    }

    size_tensor(in, info_at, t);
    return t;
}

}  // namespace

void GgufFile::parse() {
    ByteReader in(base_, size_);

    // Header
    const uint32_t magic = in.read_u32("magic");
    if (std::memcmp(&magic, "GGUF", 4) != 0) {
        throw in.error_at(0, fmt::format("magic 0x{:08x}", magic),
                          "is not 'GGUF'; the file is not a GGUF model");
    }
    const size_t version_at = in.offset();
    version_ = in.read_u32("version");
    if (version_ == 1) {
        throw in.error_at(version_at, "version 1", "is not supported (it predates 64-bit counts); "
                                                   "convert the model again with a current llama.cpp");
    }
    if (version_ < kMinVersion || version_ > kMaxVersion) {
        const bool byte_swapped = (version_ & 0xffff) == 0 && version_ != 0;
        throw in.error_at(version_at, fmt::format("version {}", version_), fmt::format(
            "is unknown (supported: 2 and 3){}",
            byte_swapped ? "; the file looks big-endian, which is not supported" : ""));
    }
    const size_t n_tensors_at = in.offset();
    const uint64_t n_tensors = in.read_u64("tensor count");
    const size_t n_kv_at = in.offset();
    const uint64_t n_kv = in.read_u64("metadata key count");

    // Metadata: key string length, value type, and at least one byte of value.
    in.check_count(n_kv, 8 + 4 + 1, n_kv_at, "metadata key count");
    metadata_.reserve(static_cast<size_t>(n_kv));
    uint64_t n_array_elements = 0;
    for (uint64_t i = 0; i < n_kv; ++i) {
        in.context = fmt::format("metadata key #{}", i);
        const size_t key_at = in.offset();
        std::string key = in.read_string("key string");
        in.context += fmt::format(" '{}'", key);
        if (metadata_index_.count(key) != 0) {
            throw in.error_at(key_at, "key", "is a duplicate of an earlier key");
        }
        const ValueType type = read_value_type(in, "value type");
        Value value = read_value(in, type, 0, n_array_elements);
        metadata_index_.emplace(key, metadata_.size());
        metadata_.emplace_back(std::move(key), std::move(value));
    }
    in.context.clear();

    alignment_ = kDefaultAlignment;
    if (const Value* v = find("general.alignment")) alignment_ = read_alignment(*v);

    // Tensor infos: name length, n_dims, type and offset at the least.
    in.check_count(n_tensors, 8 + 4 + 4 + 8, n_tensors_at, "tensor count");
    tensors_.reserve(static_cast<size_t>(n_tensors));
    std::vector<size_t> info_at(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        in.context = fmt::format("tensor #{}", i);
        info_at[i] = in.offset();
        TensorInfo t = read_tensor_info(in, alignment_);
        if (tensor_index_.count(t.name) != 0) {
            throw in.error_at(info_at[i], "name", "is a duplicate of an earlier tensor");
        }
        tensor_index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }
    in.context.clear();

    // Data section: starts at the next multiple of the alignment.
    const uint64_t info_end = in.offset();
    data_offset_ = (info_end + alignment_ - 1) / alignment_ * alignment_;
    if (data_offset_ < info_end) {
        throw in.error_at(info_end, "data section", "offset overflows uint64");
    }

    for (size_t i = 0; i < tensors_.size(); ++i) {
        TensorInfo& t = tensors_[i];
        in.context = fmt::format("tensor #{} '{}'", i, t.name);
        const uint64_t room = size_ >= data_offset_ ? size_ - data_offset_ : 0;
        if (t.offset > room || t.n_bytes > room - t.offset) {
            throw in.error_at(info_at[i], fmt::format("data ({} bytes at data offset {})",
                                                      t.n_bytes, t.offset), fmt::format(
                "runs past the end of the file (size {}, data section at {})", size_, data_offset_));
        }
        // An empty tensor may sit at the aligned end past a file without data.
        t.data = base_ + std::min<uint64_t>(data_offset_ + t.offset, size_);
    }
}

}  // namespace compactor::gguf
