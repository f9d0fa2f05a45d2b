// compactor-test-libs: compactor_gguf
//
// Files written by the test GGUF writer read back with every value, shape and
// tensor byte intact, from memory and from disk.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/dequant.h"
#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"

namespace {

using namespace compactor::test;
using compactor::gguf::Array;
using compactor::gguf::GgufError;
using compactor::gguf::GgufFile;

std::vector<float> ramp(size_t n, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
    return v;
}

// A writer with one key of every value type.
GgufWriter every_value_type() {
    GgufWriter w;
    w.add_u8("t.u8", 250);
    w.add_i8("t.i8", -120);
    w.add_u16("t.u16", 65000);
    w.add_i16("t.i16", -32000);
    w.add_u32("t.u32", 4000000000u);
    w.add_i32("t.i32", -2000000000);
    w.add_u64("t.u64", std::numeric_limits<uint64_t>::max());
    w.add_i64("t.i64", std::numeric_limits<int64_t>::min());
    w.add_f32("t.f32", 1.25e-5f);
    w.add_f64("t.f64", -3.141592653589793);
    w.add_bool("t.bool_true", true);
    w.add_bool("t.bool_false", false);
    w.add_string("t.string", "héllo\nworld");
    w.add_string("t.empty", "");
    w.add_strings("t.strings", {"<s>", "", "Ġthe"});
    w.add_i32s("t.i32s", {1, -2, 3});
    w.add_f32s("t.f32s", {0.5f, -1.5f});
    w.add("t.empty_array", value_array(ValueType::UINT8, {}));
    w.add("t.nested", value_array(ValueType::ARRAY, {
        value_array(ValueType::UINT16, {value_u16(1), value_u16(2)}),
        value_array(ValueType::UINT16, {}),
        value_array(ValueType::UINT16, {value_u16(7)}),
    }));
    w.add("t.nested_strings", value_array(ValueType::ARRAY, {
        value_array(ValueType::STRING, {value_string("a"), value_string("bc")}),
    }));
    return w;
}

std::unique_ptr<GgufFile> parse(const std::vector<uint8_t>& bytes) {
    return GgufFile::from_memory(bytes.data(), bytes.size());
}

TEST(GgufRoundTrip, HeaderAndCounts) {
    const std::vector<uint8_t> bytes = every_value_type().to_bytes();
    const auto f = parse(bytes);
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->file_size(), bytes.size());
    EXPECT_EQ(f->metadata().size(), 20u);
    EXPECT_TRUE(f->tensors().empty());
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->path(), "<memory>");
}

TEST(GgufRoundTrip, ScalarValues) {
    const std::vector<uint8_t> bytes = every_value_type().to_bytes();
    const auto f = parse(bytes);

    EXPECT_EQ(f->find("t.u8")->type, ValueType::UINT8);
    EXPECT_EQ(f->get_int("t.u8"), 250);
    EXPECT_EQ(f->find("t.i8")->type, ValueType::INT8);
    EXPECT_EQ(f->get_int("t.i8"), -120);
    EXPECT_EQ(f->get_int("t.u16"), 65000);
    EXPECT_EQ(f->get_int("t.i16"), -32000);
    EXPECT_EQ(f->get_int("t.u32"), 4000000000LL);
    EXPECT_EQ(f->get_int("t.i32"), -2000000000);
    EXPECT_EQ(f->find("t.u64")->as_uint(), std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(f->get_int("t.i64"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(f->find("t.f32")->type, ValueType::FLOAT32);
    EXPECT_EQ(f->get_float("t.f32"), static_cast<double>(1.25e-5f));
    EXPECT_EQ(f->get_float("t.f64"), -3.141592653589793);
    EXPECT_TRUE(f->find("t.bool_true")->as_bool());
    EXPECT_FALSE(f->find("t.bool_false")->as_bool());
    EXPECT_EQ(f->get_string("t.string"), "héllo\nworld");
    EXPECT_EQ(f->get_string("t.empty"), "");
}

TEST(GgufRoundTrip, ArrayValues) {
    const std::vector<uint8_t> bytes = every_value_type().to_bytes();
    const auto f = parse(bytes);

    const Array& strings = f->get_array("t.strings");
    EXPECT_EQ(strings.element_type, ValueType::STRING);
    ASSERT_EQ(strings.elements.size(), 3u);
    EXPECT_EQ(strings.elements[0].as_string(), "<s>");
    EXPECT_EQ(strings.elements[1].as_string(), "");
    EXPECT_EQ(strings.elements[2].as_string(), "Ġthe");

    const Array& ints = f->get_array("t.i32s");
    ASSERT_EQ(ints.elements.size(), 3u);
    EXPECT_EQ(ints.elements[1].as_int(), -2);
    const Array& floats = f->get_array("t.f32s");
    ASSERT_EQ(floats.elements.size(), 2u);
    EXPECT_EQ(floats.elements[1].as_float(), -1.5);
    EXPECT_TRUE(f->get_array("t.empty_array").elements.empty());
    EXPECT_EQ(f->get_array("t.empty_array").element_type, ValueType::UINT8);
}

TEST(GgufRoundTrip, NestedArrays) {
    const std::vector<uint8_t> bytes = every_value_type().to_bytes();
    const auto f = parse(bytes);

    const Array& nested = f->get_array("t.nested");
    EXPECT_EQ(nested.element_type, ValueType::ARRAY);
    ASSERT_EQ(nested.elements.size(), 3u);
    const Array& first = nested.elements[0].as_array();
    EXPECT_EQ(first.element_type, ValueType::UINT16);
    ASSERT_EQ(first.elements.size(), 2u);
    EXPECT_EQ(first.elements[1].as_int(), 2);
    EXPECT_TRUE(nested.elements[1].as_array().elements.empty());
    EXPECT_EQ(nested.elements[2].as_array().elements[0].as_int(), 7);

    const Array& inner = f->get_array("t.nested_strings").elements[0].as_array();
    ASSERT_EQ(inner.elements.size(), 2u);
    EXPECT_EQ(inner.elements[1].as_string(), "bc");
}

TEST(GgufRoundTrip, MetadataKeepsFileOrder) {
    const std::vector<uint8_t> bytes = every_value_type().to_bytes();
    const auto f = parse(bytes);
    EXPECT_EQ(f->metadata().front().first, "t.u8");
    EXPECT_EQ(f->metadata().back().first, "t.nested_strings");
}

TEST(GgufRoundTrip, TypedLookupErrorsNameKey) {
    const std::vector<uint8_t> bytes = every_value_type().to_bytes();
    const auto f = parse(bytes);

    EXPECT_EQ(f->get_int_or("t.absent", 42), 42);
    EXPECT_EQ(f->get_float_or("t.absent", 0.5), 0.5);
    EXPECT_EQ(f->get_string_or("t.absent", "x"), "x");
    EXPECT_EQ(f->get_int_or("t.i32", 0), -2000000000);
    EXPECT_FALSE(f->has("t.absent"));

    try {
        f->get_int("t.absent");
        FAIL() << "a missing key must throw";
    } catch (const GgufError& e) {
        EXPECT_NE(std::string(e.what()).find("'t.absent'"), std::string::npos) << e.what();
    }
    try {
        f->get_int("t.string");
        FAIL() << "a string used as an integer must throw";
    } catch (const GgufError& e) {
        EXPECT_NE(std::string(e.what()).find("'t.string'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(f->get_string_or("t.u8", "x"), GgufError);
    EXPECT_THROW(f->get_int("t.u64"), GgufError);   // does not fit int64
    EXPECT_THROW(f->find("t.i8")->as_uint(), GgufError);  // negative
    EXPECT_THROW(f->get_array("t.f64"), GgufError);
    EXPECT_THROW(f->find("t.u8")->as_bool(), GgufError);
    EXPECT_EQ(f->get_float("t.i32"), -2000000000.0);  // integers widen to double
}

TEST(GgufRoundTrip, TensorsOfEveryWritableType) {
    GgufWriter w;
    const std::vector<float> values = ramp(64 * 3, 2.0f);
    const GgmlType types[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16,
                              GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0};
    for (GgmlType type : types) {
        w.add_tensor(std::string("w.") + std::string(compactor::gguf::type_name(type)), type,
                     {64, 3}, values);
    }
    const std::vector<uint8_t> bytes = w.to_bytes();
    const auto f = parse(bytes);
    ASSERT_EQ(f->tensors().size(), 6u);

    // Worst-case error of each type on values in [-2, 2]: F32 exact, F16 and
    // BF16 by their mantissa, Q4_x by half a step of range/15, Q8_0 by range/254.
    const double tolerance[] = {0.0, 1e-3, 1e-2, 0.3, 0.15, 0.01};
    for (size_t k = 0; k < 6; ++k) {
        const std::string name = std::string("w.") + std::string(compactor::gguf::type_name(types[k]));
        const compactor::gguf::TensorInfo& t = f->tensor(name);
        EXPECT_EQ(t.type, types[k]) << name;
        EXPECT_EQ(t.n_dims, 2u) << name;
        EXPECT_EQ(t.ne[0], 64) << name;
        EXPECT_EQ(t.ne[1], 3) << name;
        EXPECT_EQ(t.ne[2], 1) << name;
        EXPECT_EQ(t.n_elements(), 192) << name;
        EXPECT_EQ(t.n_bytes, compactor::gguf::row_size(t.type, 64) * 3) << name;
        EXPECT_EQ(t.offset % f->alignment(), 0u) << name;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) - reinterpret_cast<uintptr_t>(bytes.data()),
                  f->data_offset() + t.offset) << name;

        std::vector<float> out(192);
        compactor::gguf::dequantize(t.type, t.data, out.data(), 192);
        for (size_t i = 0; i < out.size(); ++i) {
            ASSERT_NEAR(out[i], values[i], tolerance[k]) << name << " element " << i;
        }
    }
    EXPECT_EQ(f->find_tensor("w.absent"), nullptr);
    EXPECT_THROW(f->tensor("w.absent"), GgufError);
}

TEST(GgufRoundTrip, CustomAlignment) {
    GgufWriter w;
    w.add_u32("general.alignment", 256);
    const std::vector<float> a = ramp(32, 1.0f);
    w.add_tensor("a", GgmlType::F32, {32}, a);
    w.add_tensor("b", GgmlType::Q8_0, {32, 2, 1, 1}, ramp(64, 1.0f));
    const std::vector<uint8_t> bytes = w.to_bytes();
    const auto f = parse(bytes);

    EXPECT_EQ(f->alignment(), 256u);
    EXPECT_EQ(f->data_offset() % 256, 0u);
    EXPECT_EQ(f->tensor("a").offset, 0u);
    EXPECT_EQ(f->tensor("b").offset, 256u);
    EXPECT_EQ(f->tensor("b").n_dims, 4u);
    EXPECT_EQ(f->tensor("b").n_elements(), 64);
    float first = 0.0f;
    compactor::gguf::dequantize(GgmlType::F32, f->tensor("a").data, &first, 1);
    EXPECT_EQ(first, a[0]);
}

TEST(GgufRoundTrip, Version2IsAccepted) {
    GgufWriter w = every_value_type();
    w.version = 2;
    const std::vector<uint8_t> bytes = w.to_bytes();
    EXPECT_EQ(parse(bytes)->version(), 2u);
}

TEST(GgufRoundTrip, OpenFromDisk) {
    GgufWriter w = every_value_type();
    w.add_tensor("w", GgmlType::Q4_1, {32, 2}, ramp(64, 1.0f));
    const std::string path = w.write_temp("gguf-roundtrip");
    {
        const auto f = GgufFile::open(path);
        EXPECT_EQ(f->path(), path);
        EXPECT_EQ(f->file_size(), w.to_bytes().size());
        EXPECT_EQ(f->get_string("t.string"), "héllo\nworld");
        EXPECT_EQ(f->tensor("w").type, GgmlType::Q4_1);
    }
    std::remove(path.c_str());
}

TEST(GgufRoundTrip, OpenMissingFileThrowsSystemError) {
    EXPECT_THROW(GgufFile::open("/nonexistent/dir/model.gguf"), std::system_error);
}

}  // namespace
