// A memory-mapped GGUF file (versions 2 and 3): header, metadata, tensor infos.
//
// The file is untrusted input. Every count, length, offset and shape is checked
// against the file size before use, and a malformed file raises GgufError
// naming the field and its byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "gguf/gguf_types.h"

namespace compactor::gguf {

class GgufError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Value;

// An array value: elements share one type; nested arrays are allowed.
struct Array {
    ValueType element_type = ValueType::UINT8;
    std::vector<Value> elements;
};

// A metadata value. Integers keep their signedness in the widest type of it.
struct Value {
    ValueType type = ValueType::UINT8;
    std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

    // Numeric conversions; throw GgufError when the value is not numeric or
    // does not fit the target type.
    int64_t as_int() const;
    uint64_t as_uint() const;
    double as_float() const;
    bool as_bool() const;
    const std::string& as_string() const;
    const Array& as_array() const;
};

// One tensor as the file describes it. Shape is in ggml order: ne[0] is the
// innermost (contiguous) dimension, so a [rows × cols] row-major matrix has
// ne[0] = cols and ne[1] = rows.
struct TensorInfo {
    std::string name;
    GgmlType type = GgmlType::F32;
    uint32_t n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};
    uint64_t offset = 0;        // relative to the start of the data section
    uint64_t n_bytes = 0;       // size of the tensor's data in the file
    const uint8_t* data = nullptr;  // into the mapping, valid while the GgufFile lives

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
public:
    // Map and parse the file. Throws GgufError on any malformed or
    // unsupported content, std::system_error when the file cannot be opened.
    static std::unique_ptr<GgufFile> open(const std::string& path);

    // Parse a GGUF image already in memory (the bytes must outlive the
    // object); used by tests and fuzzing.
    static std::unique_ptr<GgufFile> from_memory(const uint8_t* bytes, size_t size);

    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    size_t file_size() const { return size_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }

    // Metadata in file order and by key.
    const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
    const Value* find(const std::string& key) const;
    bool has(const std::string& key) const { return find(key) != nullptr; }

    // Typed look-ups. The plain forms throw GgufError naming the key when it
    // is missing or of the wrong type; the _or forms return the fallback when
    // the key is missing (and still throw on a wrong type).
    std::string get_string(const std::string& key) const;
    int64_t get_int(const std::string& key) const;
    double get_float(const std::string& key) const;
    const Array& get_array(const std::string& key) const;
    std::string get_string_or(const std::string& key, const std::string& fallback) const;
    int64_t get_int_or(const std::string& key, int64_t fallback) const;
    double get_float_or(const std::string& key, double fallback) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(const std::string& name) const;
    // Throws GgufError naming the tensor when it is missing.
    const TensorInfo& tensor(const std::string& name) const;

private:
    GgufFile() = default;
    void parse();

    std::string path_;
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    void* mapping_ = nullptr;  // non-null when this object owns an mmap
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, Value>> metadata_;
    std::map<std::string, size_t> metadata_index_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t> tensor_index_;
};

}  // namespace compactor::gguf
