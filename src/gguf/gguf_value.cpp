// Typed access to GGUF metadata values.
#include <limits>
#include <string>

#include <fmt/format.h>

#include "gguf/gguf_file.h"

namespace compactor::gguf {

namespace {

GgufError wrong_type(const Value& v, std::string_view expected) {
    return GgufError(fmt::format("GGUF: metadata value of type {} used as {}",
                                 value_type_name(v.type), expected));
}

}  // namespace

std::string_view value_type_name(ValueType type) {
    switch (type) {
        case ValueType::UINT8: return "uint8";
        case ValueType::INT8: return "int8";
        case ValueType::UINT16: return "uint16";
        case ValueType::INT16: return "int16";
        case ValueType::UINT32: return "uint32";
        case ValueType::INT32: return "int32";
        case ValueType::FLOAT32: return "float32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::UINT64: return "uint64";
        case ValueType::INT64: return "int64";
        case ValueType::FLOAT64: return "float64";
    }
    return "unknown";
}

int64_t Value::as_int() const {
    if (const auto* u = std::get_if<uint64_t>(&data)) {
        if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            throw GgufError(fmt::format("GGUF: metadata value {} does not fit in int64", *u));
        }
        return static_cast<int64_t>(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&data)) return *i;
    throw wrong_type(*this, "an integer");
}

uint64_t Value::as_uint() const {
    if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
    if (const auto* i = std::get_if<int64_t>(&data)) {
        if (*i < 0) {
            throw GgufError(fmt::format("GGUF: metadata value {} is negative where an unsigned "
                                        "integer is expected", *i));
        }
        return static_cast<uint64_t>(*i);
    }
    throw wrong_type(*this, "an unsigned integer");
}

double Value::as_float() const {
    if (const auto* d = std::get_if<double>(&data)) return *d;
    if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
    if (const auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
    throw wrong_type(*this, "a number");
}

bool Value::as_bool() const {
    if (const auto* b = std::get_if<bool>(&data)) return *b;
    throw wrong_type(*this, "a bool");
}

const std::string& Value::as_string() const {
    if (const auto* s = std::get_if<std::string>(&data)) return *s;
    throw wrong_type(*this, "a string");
}

const Array& Value::as_array() const {
    if (const auto* a = std::get_if<Array>(&data)) return *a;
    throw wrong_type(*this, "an array");
}

}  // namespace compactor::gguf
