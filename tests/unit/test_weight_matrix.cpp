// compactor-test-libs: compactor_model
// WeightMatrix in both formats and linear() on each of its paths: fp32 BLAS,
// dot products straight from the blocks (fp32 or int8 activations) and
// dequantized tiles for longer inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/dequant.h"
#include "support/gguf_writer.h"
#include "model/linear.h"
#include "model/thread_pool.h"
#include "model/weight_matrix.h"

namespace compactor::test {
namespace {

using gguf::GgmlType;

std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// x · Wᵀ in double over the dequantized values.
std::vector<double> reference_product(const std::vector<float>& x, int64_t n_tokens, const std::vector<float>& w,
                                      int64_t n_out, int64_t n_in) {
    std::vector<double> y(static_cast<size_t>(n_tokens * n_out));
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t o = 0; o < n_out; ++o) {
            double sum = 0.0;
            for (int64_t i = 0; i < n_in; ++i) {
                sum += static_cast<double>(x[static_cast<size_t>(t * n_in + i)]) * w[static_cast<size_t>(o * n_in + i)];
            }
            y[static_cast<size_t>(t * n_out + o)] = sum;
        }
    }
    return y;
}

double max_abs(const std::vector<double>& v) {
    double m = 0.0;
    for (double x : v) m = std::max(m, std::abs(x));
    return m;
}

struct Quantized {
    std::vector<uint8_t> blocks;
    std::vector<float> values;  // the blocks dequantized
};

Quantized quantized_matrix(GgmlType type, int64_t n_out, int64_t n_in, uint32_t seed) {
    Quantized q;
    q.blocks = quantize(type, random_values(static_cast<size_t>(n_out * n_in), seed));
    q.values.resize(static_cast<size_t>(n_out * n_in));
    gguf::dequantize(type, q.blocks.data(), q.values.data(), n_out * n_in);
    return q;
}

TEST(WeightMatrix, BlocksDequantizeLikeGguf) {
    const int64_t n_out = 7;
    const int64_t n_in = 96;
    for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0}) {
        const Quantized q = quantized_matrix(type, n_out, n_in, 1);
        const WeightMatrix m = WeightMatrix::from_blocks(type, q.blocks.data(), n_out, n_in);
        EXPECT_TRUE(m.is_quantized());
        EXPECT_EQ(m.fp32(), nullptr);
        EXPECT_EQ(m.size_bytes(), q.blocks.size()) << gguf::type_name(type);

        std::vector<float> rows(static_cast<size_t>(3 * n_in));
        m.dequantize_rows(2, 5, rows.data());
        for (size_t i = 0; i < rows.size(); ++i) {
            ASSERT_EQ(rows[i], q.values[static_cast<size_t>(2 * n_in) + i]) << gguf::type_name(type) << " at " << i;
        }
    }
}

TEST(WeightMatrix, Fp32RowsCopyValues) {
    const std::vector<float> values = random_values(4 * 32, 2);
    const WeightMatrix m = WeightMatrix::from_fp32(values, 4, 32);
    EXPECT_FALSE(m.is_quantized());
    EXPECT_EQ(m.size_bytes(), values.size() * sizeof(float));

    std::vector<float> row(32);
    m.dequantize_rows(3, 4, row.data());
    EXPECT_EQ(row, std::vector<float>(values.begin() + 96, values.end()));
}

TEST(WeightMatrix, RejectsBadShapesAndTypes) {
    EXPECT_THROW(WeightMatrix::from_fp32(std::vector<float>(10), 3, 4), std::invalid_argument);

    const std::vector<uint8_t> blocks(1024);
    EXPECT_THROW(WeightMatrix::from_blocks(GgmlType::F16, blocks.data(), 2, 32), std::invalid_argument);
    EXPECT_THROW(WeightMatrix::from_blocks(GgmlType::Q4_1, blocks.data(), 2, 48), std::invalid_argument);
    try {
        WeightMatrix::from_blocks(GgmlType::F16, blocks.data(), 2, 32);
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("F16"), std::string::npos) << e.what();
    }
}

struct LinearCase {
    GgmlType type;
    bool int8_activations;
    int64_t n_tokens;
};

// Every path of linear() against a double-precision product of the
// dequantized weights, with a bias.
TEST(LinearQuantized, PathsMatchDequantizedProduct) {
    ThreadPool pool(2);
    const int64_t n_out = 200;
    const int64_t n_in = 576;
    const std::vector<float> bias = random_values(static_cast<size_t>(n_out), 3);

    for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0}) {
        const Quantized q = quantized_matrix(type, n_out, n_in, 4);
        for (bool int8_activations : {false, true}) {
            const WeightMatrix m = WeightMatrix::from_blocks(type, q.blocks.data(), n_out, n_in, int8_activations);
            // 1 and kBlockDotMaxTokens take the block kernels; more take dequantized tiles.
            for (int64_t n_tokens : {int64_t{1}, kBlockDotMaxTokens, kBlockDotMaxTokens + 1, int64_t{37}}) {
                const std::vector<float> x = random_values(static_cast<size_t>(n_tokens * n_in), 5);
                std::vector<double> expected = reference_product(x, n_tokens, q.values, n_out, n_in);
                for (int64_t t = 0; t < n_tokens; ++t) {
                    for (int64_t o = 0; o < n_out; ++o) expected[static_cast<size_t>(t * n_out + o)] += bias[static_cast<size_t>(o)];
                }

                std::vector<float> y(static_cast<size_t>(n_tokens * n_out));
                linear(x.data(), n_tokens, m, bias.data(), y.data(), pool);

                // int8 rounding only applies to the block kernels.
                const bool rounded = int8_activations && n_tokens <= kBlockDotMaxTokens;
                const double tolerance = (rounded ? 2e-2 : 1e-5) * max_abs(expected);
                for (size_t i = 0; i < y.size(); ++i) {
                    ASSERT_NEAR(y[i], expected[i], tolerance)
                        << gguf::type_name(type) << (int8_activations ? " int8" : " fp32") << " activations, "
                        << n_tokens << " tokens, element " << i;
                }
            }
        }
    }
}

TEST(LinearQuantized, Fp32MatrixTakesBlasPath) {
    ThreadPool pool(2);
    const int64_t n_out = 70;
    const int64_t n_in = 64;
    const std::vector<float> w = random_values(static_cast<size_t>(n_out * n_in), 6);
    const WeightMatrix m = WeightMatrix::from_fp32(w, n_out, n_in);
    const std::vector<float> x = random_values(static_cast<size_t>(3 * n_in), 7);

    std::vector<float> via_matrix(static_cast<size_t>(3 * n_out));
    std::vector<float> via_pointer(via_matrix.size());
    linear(x.data(), 3, m, nullptr, via_matrix.data(), pool);
    linear(x.data(), 3, n_in, w.data(), n_out, nullptr, via_pointer.data(), pool);
    EXPECT_EQ(via_matrix, via_pointer);
}

}  // namespace
}  // namespace compactor::test
