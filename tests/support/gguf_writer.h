// A small GGUF v3 writer for tests: builds tiny synthetic models in memory or
// on disk.
//
//   compactor::test::GgufWriter w;
//   w.add_string("general.architecture", "llama");
//   w.add_u32("llama.block_count", 2);
//   w.add_strings("tokenizer.ggml.tokens", {"<s>", "a", "b"});
//   w.add_tensor("token_embd.weight", GgmlType::Q8_0, {64, 3}, values);  // ne[0] = 64 innermost
//   std::string path = w.write_temp("tiny");   // or w.write(path) / w.to_bytes()
//
// Metadata and tensors are written in the order they are added. Duplicates
// are written as given (the reader must reject them). Tensor data is placed at
// offsets aligned to general.alignment when that key contains a valid alignment,
// else to 32 bytes. For malformed files, to_bytes() reports where every field
// lies (WriterLayout), so a test can overwrite exactly one field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_types.h"

namespace compactor::test {

using gguf::GgmlType;
using gguf::Value;
using gguf::ValueType;

// Value constructors, one per GGUF value type.
Value value_u8(uint8_t v);
Value value_i8(int8_t v);
Value value_u16(uint16_t v);
Value value_i16(int16_t v);
Value value_u32(uint32_t v);
Value value_i32(int32_t v);
Value value_u64(uint64_t v);
Value value_i64(int64_t v);
Value value_f32(float v);
Value value_f64(double v);
Value value_bool(bool v);
Value value_string(std::string v);
// An array; every element must have type element_type (nested arrays allowed).
Value value_array(ValueType element_type, std::vector<Value> elements);
Value value_strings(const std::vector<std::string>& v);
Value value_i32s(const std::vector<int32_t>& v);
Value value_f32s(const std::vector<float>& v);

// Quantize fp32 values (count a multiple of the block size) to the file layout
// of F32, F16, BF16, Q4_0, Q4_1 or Q8_0, rounding as ggml's reference
// quantizers do. Throws std::invalid_argument for other types or a bad count.
std::vector<uint8_t> quantize(GgmlType type, std::span<const float> values);

// Byte offsets of the fields of a written file, for building malformed ones.
struct WriterLayout {
    size_t version_at = 4;
    size_t n_tensors_at = 8;
    size_t n_kv_at = 16;
    std::vector<size_t> key_at;          // per metadata entry: its key's string length
    std::vector<size_t> value_type_at;   // per metadata entry: its value type code
    std::vector<size_t> value_at;        // per metadata entry: its value
    std::vector<size_t> tensor_info_at;  // per tensor: its name's string length
    std::vector<size_t> n_dims_at;       // per tensor
    std::vector<size_t> ne_at;           // per tensor: ne[0] (ne[j] is 8·j bytes later)
    std::vector<size_t> type_at;         // per tensor: its type code
    std::vector<size_t> offset_at;       // per tensor: its data offset field
    size_t data_offset = 0;              // start of the data section
    std::vector<size_t> data_at;         // per tensor: absolute offset of its data
};

class GgufWriter {
public:
    uint32_t version = 3;  // written as is; tests set other values to get bad files

    void add(std::string key, Value value);
    void add_u8(std::string key, uint8_t v) { add(std::move(key), value_u8(v)); }
    void add_i8(std::string key, int8_t v) { add(std::move(key), value_i8(v)); }
    void add_u16(std::string key, uint16_t v) { add(std::move(key), value_u16(v)); }
    void add_i16(std::string key, int16_t v) { add(std::move(key), value_i16(v)); }
    void add_u32(std::string key, uint32_t v) { add(std::move(key), value_u32(v)); }
    void add_i32(std::string key, int32_t v) { add(std::move(key), value_i32(v)); }
    void add_u64(std::string key, uint64_t v) { add(std::move(key), value_u64(v)); }
    void add_i64(std::string key, int64_t v) { add(std::move(key), value_i64(v)); }
    void add_f32(std::string key, float v) { add(std::move(key), value_f32(v)); }
    void add_f64(std::string key, double v) { add(std::move(key), value_f64(v)); }
    void add_bool(std::string key, bool v) { add(std::move(key), value_bool(v)); }
    void add_string(std::string key, std::string v) { add(std::move(key), value_string(std::move(v))); }
    void add_strings(std::string key, const std::vector<std::string>& v) { add(std::move(key), value_strings(v)); }
    void add_i32s(std::string key, const std::vector<int32_t>& v) { add(std::move(key), value_i32s(v)); }
    void add_f32s(std::string key, const std::vector<float>& v) { add(std::move(key), value_f32s(v)); }

    // A tensor of shape ne (ggml order, ne[0] innermost, 1 to 4 dims) from
    // fp32 values in row-major order (ne[0] fastest), quantized to `type`.
    void add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                    std::span<const float> values);
    // A tensor whose data is given already in the type's layout (any size).
    void add_tensor_raw(std::string name, GgmlType type, std::vector<int64_t> ne,
                        std::vector<uint8_t> data);

    // The file image; `layout`, when given, receives the field offsets.
    std::vector<uint8_t> to_bytes(WriterLayout* layout = nullptr) const;
    // Write the image to `path`; throws std::runtime_error when that fails.
    void write(const std::string& path) const;
    // Write to a new file under the system temp folder and return its path.
    std::string write_temp(const std::string& stem) const;

private:
    struct Tensor {
        std::string name;
        GgmlType type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> data;
    };

    uint64_t alignment() const;

    std::vector<std::pair<std::string, Value>> metadata_;
    std::vector<Tensor> tensors_;
};

}  // namespace compactor::test
