// compactor-test-libs: compactor_gguf nlohmann_json::nlohmann_json
//
// Dequantization and quantization against the `gguf` Python package
// (golden files written by tools/gguf_golden.py), and against tensors of the
// default model.
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/dequant.h"
#include "gguf/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/paths.h"

namespace {

using compactor::gguf::GgmlType;
using nlohmann::json;

struct Golden {
    json sidecar;
    std::vector<uint8_t> blob;

    // The bytes that a [offset, n_bytes] pair of the sidecar names.
    std::vector<uint8_t> bytes(const json& where) const {
        const auto offset = where.at(0).get<size_t>();
        const auto n_bytes = where.at(1).get<size_t>();
        if (offset + n_bytes > blob.size()) {
            throw std::runtime_error("golden range runs past dequant.bin; rerun tools/gguf_golden.py");
        }
        return {blob.begin() + static_cast<std::ptrdiff_t>(offset),
                blob.begin() + static_cast<std::ptrdiff_t>(offset + n_bytes)};
    }

    std::vector<float> floats(const json& where) const {
        const std::vector<uint8_t> b = bytes(where);
        std::vector<float> out(b.size() / sizeof(float));
        std::memcpy(out.data(), b.data(), out.size() * sizeof(float));
        return out;
    }
};

const Golden& golden() {
    static const Golden g = [] {
        Golden loaded;
        std::ifstream meta(compactor::test::golden_path("dequant.json"));
        loaded.sidecar = json::parse(meta);
        std::ifstream blob(compactor::test::golden_path("dequant.bin"), std::ios::binary);
        loaded.blob.assign(std::istreambuf_iterator<char>(blob), std::istreambuf_iterator<char>());
        return loaded;
    }();
    return g;
}

GgmlType type_from_name(const std::string& name) {
    for (uint32_t code = 0; code < 64; ++code) {
        if (!compactor::gguf::is_known_type(code)) continue;
        const auto type = static_cast<GgmlType>(code);
        if (compactor::gguf::type_name(type) == name) return type;
    }
    throw std::runtime_error("golden file names unknown type " + name);
}

// Equal bit patterns, or both NaN.
bool same_float(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// Index of the first difference, or -1.
int64_t first_mismatch(const std::vector<float>& got, const std::vector<float>& expected) {
    if (got.size() != expected.size()) return 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (!same_float(got[i], expected[i])) return static_cast<int64_t>(i);
    }
    return -1;
}

TEST(DequantParity, GoldenFilesPresent) {
    ASSERT_FALSE(golden().blob.empty()) << "tests/golden/dequant.bin is missing; run tools/gguf_golden.py";
    ASSERT_GE(golden().sidecar.at("cases").size(), 11u);
}

TEST(DequantParity, SyntheticBlocksMatchGguf) {
    for (const json& c : golden().sidecar.at("cases")) {
        const std::string name = c.at("name");
        const GgmlType type = type_from_name(c.at("type"));
        const auto n = c.at("n").get<int64_t>();
        const std::vector<uint8_t> raw = golden().bytes(c.at("raw"));
        const std::vector<float> expected = golden().floats(c.at("expected"));
        ASSERT_EQ(raw.size(), compactor::gguf::row_size(type, n)) << name;
        ASSERT_EQ(expected.size(), static_cast<size_t>(n)) << name;

        std::vector<float> got(static_cast<size_t>(n));
        compactor::gguf::dequantize(type, raw.data(), got.data(), n);

        const int64_t i = first_mismatch(got, expected);
        EXPECT_EQ(i, -1) << name << ": element " << i << " is " << got[static_cast<size_t>(i)]
                         << ", gguf gives " << expected[static_cast<size_t>(i)];
    }
}

TEST(DequantParity, WriterQuantizerMatchesGguf) {
    int checked = 0;
    for (const json& c : golden().sidecar.at("cases")) {
        if (!c.contains("input")) continue;
        const std::string name = c.at("name");
        const GgmlType type = type_from_name(c.at("type"));
        const std::vector<float> input = golden().floats(c.at("input"));
        const std::vector<uint8_t> expected = golden().bytes(c.at("raw"));

        const std::vector<uint8_t> got = compactor::test::quantize(type, input);

        ASSERT_EQ(got.size(), expected.size()) << name;
        for (size_t b = 0; b < got.size(); ++b) {
            ASSERT_EQ(got[b], expected[b]) << name << ": byte " << b << " differs from gguf.quants";
        }
        ++checked;
    }
    EXPECT_EQ(checked, 6);  // f32, f16, bf16, q4_0, q4_1, q8_0
}

TEST(DequantParity, Fp16RoundTripsEveryHalf) {
    for (uint32_t bits = 0; bits < 65536; ++bits) {
        const auto h = static_cast<uint16_t>(bits);
        const float f = compactor::gguf::fp16_to_fp32(h);
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(compactor::gguf::fp16_to_fp32(compactor::gguf::fp32_to_fp16(f))));
            continue;
        }
        ASSERT_EQ(compactor::gguf::fp32_to_fp16(f), h) << "half 0x" << std::hex << bits;
    }
}

TEST(DequantParity, RealModelTensorsMatchGguf) {
    const std::string path = compactor::test::real_model_path();
    ASSERT_TRUE(std::filesystem::exists(path))
        << "model file " << path << " is missing; run `make test` or scripts/fetch_model.sh";
    const auto file = compactor::gguf::GgufFile::open(path);
    const json& model = golden().sidecar.at("model");
    ASSERT_EQ(file->file_size(), model.at("size").get<size_t>())
        << path << " is not the file the golden values came from (sha256 "
        << model.at("sha256").get<std::string>() << ")";

    for (const json& c : model.at("cases")) {
        const std::string name = c.at("tensor");
        const auto start = c.at("start").get<int64_t>();
        const auto n = c.at("n").get<int64_t>();
        const std::vector<float> expected = golden().floats(c.at("expected"));
        const compactor::gguf::TensorInfo& t = file->tensor(name);
        ASSERT_EQ(compactor::gguf::type_name(t.type), c.at("type").get<std::string>()) << name;
        ASSERT_LE(start + n, t.n_elements()) << name;

        // start is a whole number of blocks, so its bytes begin at a block.
        const size_t skip = compactor::gguf::row_size(t.type, start);
        std::vector<float> got(static_cast<size_t>(n));
        compactor::gguf::dequantize(t.type, t.data + skip, got.data(), n);

        const int64_t i = first_mismatch(got, expected);
        EXPECT_EQ(i, -1) << name << " from element " << start << ": element " << i << " is "
                         << got[static_cast<size_t>(i)] << ", gguf gives "
                         << expected[static_cast<size_t>(i)];
    }
}

TEST(DequantParity, RejectsUnsupportedTypeAndCount) {
    std::vector<uint8_t> src(1024);
    std::vector<float> dst(256);
    EXPECT_THROW(compactor::gguf::dequantize(GgmlType::Q4_K, src.data(), dst.data(), 256),
                 std::invalid_argument);
    EXPECT_THROW(compactor::gguf::dequantize(GgmlType::Q4_1, src.data(), dst.data(), 31),
                 std::invalid_argument);
    EXPECT_FALSE(compactor::gguf::can_dequantize(GgmlType::Q6_K));
    EXPECT_TRUE(compactor::gguf::can_dequantize(GgmlType::BF16));
}

}  // namespace
