// GGUF v3 serialization and reference quantizers for synthetic test models.
#include "support/gguf_writer.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

#include "gguf/dequant.h"

namespace compactor::test {

using gguf::Array;

// ---- Value constructors ----

namespace {

Value make(ValueType type, decltype(Value::data) data) {
    Value v;
    v.type = type;
    v.data = std::move(data);
    return v;
}

}  // namespace

Value value_u8(uint8_t v) { return make(ValueType::UINT8, uint64_t{v}); }
Value value_i8(int8_t v) { return make(ValueType::INT8, int64_t{v}); }
Value value_u16(uint16_t v) { return make(ValueType::UINT16, uint64_t{v}); }
Value value_i16(int16_t v) { return make(ValueType::INT16, int64_t{v}); }
Value value_u32(uint32_t v) { return make(ValueType::UINT32, uint64_t{v}); }
Value value_i32(int32_t v) { return make(ValueType::INT32, int64_t{v}); }
Value value_u64(uint64_t v) { return make(ValueType::UINT64, v); }
Value value_i64(int64_t v) { return make(ValueType::INT64, v); }
Value value_f32(float v) { return make(ValueType::FLOAT32, double{v}); }
Value value_f64(double v) { return make(ValueType::FLOAT64, v); }
Value value_bool(bool v) { return make(ValueType::BOOL, v); }
Value value_string(std::string v) { return make(ValueType::STRING, std::move(v)); }

Value value_array(ValueType element_type, std::vector<Value> elements) {
    return make(ValueType::ARRAY, Array{element_type, std::move(elements)});
}

Value value_strings(const std::vector<std::string>& v) {
    std::vector<Value> elements;
    for (const auto& s : v) elements.push_back(value_string(s));
    return value_array(ValueType::STRING, std::move(elements));
}

Value value_i32s(const std::vector<int32_t>& v) {
    std::vector<Value> elements;
    for (int32_t x : v) elements.push_back(value_i32(x));
    return value_array(ValueType::INT32, std::move(elements));
}

Value value_f32s(const std::vector<float>& v) {
    std::vector<Value> elements;
    for (float x : v) elements.push_back(value_f32(x));
    return value_array(ValueType::FLOAT32, std::move(elements));
}

// ---- Quantizers (round-to-nearest, as ggml's quantize_row_*_ref) ----

namespace {

constexpr size_t QK = 32;

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
}

// Round to nearest even, NaN made quiet (as ggml_compute_fp32_to_bf16).
uint16_t fp32_to_bf16(float f) {
    uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return static_cast<uint16_t>(x >> 16);
}

void quantize_q4_0(const float* x, std::vector<uint8_t>& out) {
    // The scale maps the value of largest magnitude to -8, keeping its sign.
    float amax = 0.0f;
    float max = 0.0f;
    for (size_t j = 0; j < QK; ++j) {
        if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    put(out, gguf::fp32_to_fp16(d));
    for (size_t j = 0; j < QK / 2; ++j) {
        const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
        const int q1 = std::min(15, static_cast<int>(x[j + QK / 2] * id + 8.5f));
        out.push_back(static_cast<uint8_t>(q0 | (q1 << 4)));
    }
}

void quantize_q4_1(const float* x, std::vector<uint8_t>& out) {
    float min = x[0];
    float max = x[0];
    for (size_t j = 1; j < QK; ++j) {
        min = std::min(min, x[j]);
        max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    put(out, gguf::fp32_to_fp16(d));
    put(out, gguf::fp32_to_fp16(min));
    for (size_t j = 0; j < QK / 2; ++j) {
        const int q0 = std::min(15, static_cast<int>((x[j] - min) * id + 0.5f));
        const int q1 = std::min(15, static_cast<int>((x[j + QK / 2] - min) * id + 0.5f));
        out.push_back(static_cast<uint8_t>(q0 | (q1 << 4)));
    }
}

void quantize_q8_0(const float* x, std::vector<uint8_t>& out) {
    float amax = 0.0f;
    for (size_t j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    put(out, gguf::fp32_to_fp16(d));
    for (size_t j = 0; j < QK; ++j) {
        out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id))));
    }
}

}  // namespace

std::vector<uint8_t> quantize(GgmlType type, std::span<const float> values) {
    const size_t n = values.size();
    std::vector<uint8_t> out;
    out.reserve(gguf::row_size(type, static_cast<int64_t>(n)));  // also validates n
    const float* x = values.data();

    switch (type) {
        case GgmlType::F32:
            for (float v : values) put(out, v);
            break;
        case GgmlType::F16:
            for (float v : values) put(out, gguf::fp32_to_fp16(v));
            break;
        case GgmlType::BF16:
            for (float v : values) put(out, fp32_to_bf16(v));
            break;
        case GgmlType::Q4_0:
            for (size_t i = 0; i < n; i += QK) quantize_q4_0(x + i, out);
            break;
        case GgmlType::Q4_1:
            for (size_t i = 0; i < n; i += QK) quantize_q4_1(x + i, out);
            break;
        case GgmlType::Q8_0:
            for (size_t i = 0; i < n; i += QK) quantize_q8_0(x + i, out);
            break;
        default:
            throw std::invalid_argument("gguf_writer: cannot quantize to " +
                                        std::string(gguf::type_name(type)) +
                                        "; supported: F32, F16, BF16, Q4_0, Q4_1, Q8_0");
    }
    return out;
}

// ---- Writer ----

void GgufWriter::add(std::string key, Value value) {
    metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                            std::span<const float> values) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    if (ne.empty() || ne.size() > 4 || n != static_cast<int64_t>(values.size())) {
        throw std::invalid_argument("gguf_writer: tensor '" + name + "' has " +
                                    std::to_string(values.size()) +
                                    " values, which does not match its shape (1 to 4 dims)");
    }
    add_tensor_raw(std::move(name), type, std::move(ne), quantize(type, values));
}

void GgufWriter::add_tensor_raw(std::string name, GgmlType type, std::vector<int64_t> ne,
                                std::vector<uint8_t> data) {
    tensors_.push_back({std::move(name), type, std::move(ne), std::move(data)});
}

uint64_t GgufWriter::alignment() const {
    for (const auto& [key, value] : metadata_) {
        if (key != "general.alignment") continue;
        const auto* a = std::get_if<uint64_t>(&value.data);
        if (a != nullptr && *a != 0 && (*a & (*a - 1)) == 0) return *a;
    }
    return 32;
}

namespace {

void put_string(std::vector<uint8_t>& out, const std::string& s) {
    put(out, static_cast<uint64_t>(s.size()));
    const size_t at = out.size();
    out.resize(at + s.size());
    if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}

// The value's payload, without its type code.
void put_payload(std::vector<uint8_t>& out, const Value& v) {
    switch (v.type) {
        case ValueType::UINT8: put(out, static_cast<uint8_t>(std::get<uint64_t>(v.data))); break;
        case ValueType::INT8: put(out, static_cast<int8_t>(std::get<int64_t>(v.data))); break;
        case ValueType::UINT16: put(out, static_cast<uint16_t>(std::get<uint64_t>(v.data))); break;
        case ValueType::INT16: put(out, static_cast<int16_t>(std::get<int64_t>(v.data))); break;
        case ValueType::UINT32: put(out, static_cast<uint32_t>(std::get<uint64_t>(v.data))); break;
        case ValueType::INT32: put(out, static_cast<int32_t>(std::get<int64_t>(v.data))); break;
        case ValueType::UINT64: put(out, std::get<uint64_t>(v.data)); break;
        case ValueType::INT64: put(out, std::get<int64_t>(v.data)); break;
        case ValueType::FLOAT32: put(out, static_cast<float>(std::get<double>(v.data))); break;
        case ValueType::FLOAT64: put(out, std::get<double>(v.data)); break;
        case ValueType::BOOL: put(out, static_cast<uint8_t>(std::get<bool>(v.data) ? 1 : 0)); break;
        case ValueType::STRING: put_string(out, std::get<std::string>(v.data)); break;
        case ValueType::ARRAY: {
            const Array& a = std::get<Array>(v.data);
            put(out, static_cast<uint32_t>(a.element_type));
            put(out, static_cast<uint64_t>(a.elements.size()));
            for (const Value& e : a.elements) put_payload(out, e);
            break;
        }
    }
}

void pad_to(std::vector<uint8_t>& out, uint64_t alignment) {
    while (out.size() % alignment != 0) out.push_back(0);
}

}  // namespace

std::vector<uint8_t> GgufWriter::to_bytes(WriterLayout* layout) const {
    WriterLayout l;
    std::vector<uint8_t> out;
    const uint64_t align = alignment();

    // Header
    put(out, uint32_t{0x46554747});  // "GGUF" read as a little-endian uint32
    put(out, version);
    put(out, static_cast<uint64_t>(tensors_.size()));
    put(out, static_cast<uint64_t>(metadata_.size()));

    // Metadata
    for (const auto& [key, value] : metadata_) {
        l.key_at.push_back(out.size());
        put_string(out, key);
        l.value_type_at.push_back(out.size());
        put(out, static_cast<uint32_t>(value.type));
        l.value_at.push_back(out.size());
        put_payload(out, value);
    }

    // Tensor infos; data offsets are relative to the data section.
    uint64_t data_size = 0;
    std::vector<uint64_t> offsets;
    for (const Tensor& t : tensors_) {
        l.tensor_info_at.push_back(out.size());
        put_string(out, t.name);
        l.n_dims_at.push_back(out.size());
        put(out, static_cast<uint32_t>(t.ne.size()));
        l.ne_at.push_back(out.size());
        for (int64_t d : t.ne) put(out, d);
        l.type_at.push_back(out.size());
        put(out, static_cast<uint32_t>(t.type));
        l.offset_at.push_back(out.size());
        put(out, data_size);
        offsets.push_back(data_size);
        data_size = (data_size + t.data.size() + align - 1) / align * align;
    }

    // Data section
    pad_to(out, align);
    l.data_offset = out.size();
    for (size_t i = 0; i < tensors_.size(); ++i) {
        l.data_at.push_back(l.data_offset + offsets[i]);
        const std::vector<uint8_t>& data = tensors_[i].data;
        const size_t at = out.size();
        out.resize(at + data.size());
        if (!data.empty()) std::memcpy(out.data() + at, data.data(), data.size());
        pad_to(out, align);
    }

    if (layout != nullptr) *layout = std::move(l);
    return out;
}

void GgufWriter::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = to_bytes();
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("gguf_writer: cannot write '" + path + "'");
}

std::string GgufWriter::write_temp(const std::string& stem) const {
    const std::string pattern =
        (std::filesystem::temp_directory_path() / (stem + "-XXXXXX.gguf")).string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkstemps(name.data(), 5);
    if (fd < 0) throw std::runtime_error("gguf_writer: cannot create a temp file like '" + pattern + "'");
    ::close(fd);
    const std::string path(name.data());
    write(path);
    return path;
}

}  // namespace compactor::test
