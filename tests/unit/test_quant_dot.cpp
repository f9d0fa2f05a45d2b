// compactor-test-libs: compactor_model
// Dot products of Q4_0, Q4_1 and Q8_0 rows. Int8 activations: every kernel
// path against the scalar one, the scalar one against the block formula and
// against fp32 arithmetic, the activation quantizer and row sub-ranges. fp32
// activations: every path against the dot product of dequantized rows and
// against the scalar path, row sub-ranges, row addresses and reads at the
// end of a mapping. Also the COMPACTOR_KERNEL parser.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "gguf/dequant.h"
#include "model/quant_dot.h"

namespace compactor::quant {
namespace {

using gguf::GgmlType;

constexpr GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0};
// SmolLM2-135M's widths are 576 and 1536. Kernels step over four blocks at
// a time, and the others leave every remainder 1..3, with and without whole
// steps before it.
constexpr int64_t kWidths[] = {32, 64, 96, 160, 224, 576, 1536};

// Rows of the value tests: three groups of four, then two, then one, so
// kernels that take rows in groups also run every remainder.
constexpr int64_t kRows = 15;

// Float sums taken in a different order differ by a few ulps of the largest
// partial sum; 1e-5 is about 170 ulps of fp32, relative to Σ |terms|.
constexpr double kOrderTolerance = 1e-5;

// A weight matrix of random blocks, with the numbers that made it.
struct QuantRows {
    GgmlType type{};
    int64_t n_rows = 0;
    int64_t n_in = 0;
    size_t row_bytes = 0;  // stride, which may exceed the row size
    // One spare byte in front, so that rows start at odd addresses as they
    // may in a mapped file.
    std::vector<uint8_t> storage;
    // Per block (row-major), the scale and offset as stored in fp16.
    std::vector<double> d, m;
    // Per element, the integer that d multiplies: q − 8 for Q4_0, q for
    // Q4_1 and Q8_0.
    std::vector<int32_t> q;

    const uint8_t* data() const { return storage.data() + 1; }
    int64_t n_blocks() const { return n_in / kBlock; }
};

size_t block_bytes(GgmlType type) { return gguf::type_size(type); }

uint16_t store_fp16(double value, double& stored) {
    const uint16_t h = gguf::fp32_to_fp16(static_cast<float>(value));
    stored = gguf::fp16_to_fp32(h);
    return h;
}

// Random blocks; d takes either sign, as ggml's Q4_0 quantizer writes it.
// stride_pad extra bytes of 0xff follow each row.
QuantRows make_rows(GgmlType type, int64_t n_rows, int64_t n_in, size_t stride_pad, std::mt19937& rng) {
    QuantRows w;
    w.type = type;
    w.n_rows = n_rows;
    w.n_in = n_in;
    w.row_bytes = gguf::row_size(type, n_in) + stride_pad;
    w.storage.assign(1 + static_cast<size_t>(n_rows) * w.row_bytes, 0xff);
    w.d.resize(static_cast<size_t>(n_rows * w.n_blocks()));
    w.m.resize(w.d.size(), 0.0);
    w.q.resize(static_cast<size_t>(n_rows * n_in));

    std::uniform_real_distribution<double> scale(0.002, 0.02);
    std::uniform_real_distribution<double> offset(-0.1, 0.1);
    std::uniform_int_distribution<int> nibble(0, 15);
    std::uniform_int_distribution<int> byte(-128, 127);
    std::bernoulli_distribution negative(0.3);

    for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t b = 0; b < w.n_blocks(); ++b) {
            const size_t ib = static_cast<size_t>(r * w.n_blocks() + b);
            uint8_t* block = w.storage.data() + 1 + r * w.row_bytes + b * block_bytes(type);
            int32_t* q = w.q.data() + r * n_in + b * kBlock;

            const uint16_t d = store_fp16(negative(rng) ? -scale(rng) : scale(rng), w.d[ib]);
            std::memcpy(block, &d, 2);

            if (type == GgmlType::Q8_0) {
                for (int64_t j = 0; j < kBlock; ++j) {
                    q[j] = byte(rng);
                    block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q[j]));
                }
                continue;
            }

            uint8_t* qs = block + 2;
            if (type == GgmlType::Q4_1) {
                const uint16_t m = store_fp16(offset(rng), w.m[ib]);
                std::memcpy(block + 2, &m, 2);
                qs = block + 4;
            }
            const int32_t zero_point = type == GgmlType::Q4_0 ? 8 : 0;
            for (int64_t j = 0; j < kBlock / 2; ++j) {
                const int lo = nibble(rng);
                const int hi = nibble(rng);
                qs[j] = static_cast<uint8_t>(lo | (hi << 4));
                q[j] = lo - zero_point;
                q[j + kBlock / 2] = hi - zero_point;
            }
        }
    }
    return w;
}

// Activations whose blocks span several orders of magnitude; block 1 is all
// zero when there are at least three blocks.
std::vector<float> make_activations(int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> value(0.0f, 1.0f);
    std::uniform_real_distribution<float> log_scale(-3.0f, 3.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t b = 0; b < n / kBlock; ++b) {
        const float scale = std::exp(log_scale(rng));
        const bool zero = b == 1 && n / kBlock >= 3;
        for (int64_t j = 0; j < kBlock; ++j) x[static_cast<size_t>(b * kBlock + j)] = zero ? 0.0f : scale * value(rng);
    }
    return x;
}

std::vector<BlockQ8> quantize_scalar(const std::vector<float>& x) {
    std::vector<BlockQ8> out(x.size() / kBlock);
    quantize_row_q8_on(KernelPath::scalar, x.data(), static_cast<int64_t>(x.size()), out.data());
    return out;
}

std::vector<float> run(KernelPath path, const QuantRows& w, const std::vector<BlockQ8>& x) {
    std::vector<float> y(static_cast<size_t>(w.n_rows));
    dot_rows_on(path, w.type, w.data(), w.row_bytes, w.n_in, x.data(), 0, w.n_rows, y.data());
    return y;
}

// Σ over blocks of d_w d_a Σ q_w q_a + m_w s_a, in double.
double block_formula(const QuantRows& w, int64_t r, const std::vector<BlockQ8>& x) {
    double sum = 0.0;
    for (int64_t b = 0; b < w.n_blocks(); ++b) {
        const size_t ib = static_cast<size_t>(r * w.n_blocks() + b);
        int64_t isum = 0;
        for (int64_t j = 0; j < kBlock; ++j) isum += w.q[static_cast<size_t>(r * w.n_in + b * kBlock + j)] * x[b].q[j];
        sum += w.d[ib] * x[b].d * static_cast<double>(isum) + w.m[ib] * x[b].s;
    }
    return sum;
}

// Σ |terms| of the block formula: the scale of the rounding error of any
// order of summation.
double magnitude(const QuantRows& w, int64_t r, const std::vector<BlockQ8>& x) {
    double sum = 0.0;
    for (int64_t b = 0; b < w.n_blocks(); ++b) {
        const size_t ib = static_cast<size_t>(r * w.n_blocks() + b);
        for (int64_t j = 0; j < kBlock; ++j) {
            const double w_abs = std::fabs(w.d[ib] * w.q[static_cast<size_t>(r * w.n_in + b * kBlock + j)]) + std::fabs(w.m[ib]);
            sum += w_abs * std::fabs(static_cast<double>(x[b].d) * x[b].q[j]);
        }
    }
    return sum;
}

std::string case_name(GgmlType type, int64_t n_in) {
    return std::string(gguf::type_name(type)) + " n_in=" + std::to_string(n_in);
}

TEST(QuantDot, PathsMatchScalar) {
    std::mt19937 rng(7);
    for (KernelPath path : supported_kernel_paths()) {
        if (path == KernelPath::scalar) continue;
        for (GgmlType type : kTypes) {
            for (int64_t n_in : kWidths) {
                SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + case_name(type, n_in));
                const QuantRows w = make_rows(type, kRows, n_in, n_in == 96 ? 3 : 0, rng);
                const std::vector<BlockQ8> x = quantize_scalar(make_activations(n_in, rng));

                const std::vector<float> expected = run(KernelPath::scalar, w, x);
                const std::vector<float> actual = run(path, w, x);
                for (int64_t r = 0; r < kRows; ++r) {
                    EXPECT_NEAR(actual[r], expected[r], kOrderTolerance * magnitude(w, r, x)) << "row " << r;
                }
            }
        }
    }
}

// Largest integer products: Q8_0 weights of −128 against activations of
// ±127 reach 2 · 128 · 127 in a pair, the most an i16 pair sum may hold.
TEST(QuantDot, ExtremeQuantsMatchScalar) {
    const int64_t n_in = 160;
    std::mt19937 rng(11);
    for (GgmlType type : kTypes) {
        QuantRows w = make_rows(type, kRows, n_in, 0, rng);
        for (int64_t r = 0; r < kRows; ++r) {
            for (int64_t b = 0; b < w.n_blocks(); ++b) {
                uint8_t* block = w.storage.data() + 1 + r * w.row_bytes + b * block_bytes(type);
                if (type == GgmlType::Q8_0) {
                    std::memset(block + 2, 0x80, kBlock);
                } else {
                    std::memset(block + (type == GgmlType::Q4_1 ? 4 : 2), 0xff, kBlock / 2);
                }
            }
        }

        std::vector<BlockQ8> x(static_cast<size_t>(w.n_blocks()));
        for (size_t b = 0; b < x.size(); ++b) {
            int32_t sum = 0;
            for (int64_t j = 0; j < kBlock; ++j) {
                x[b].q[j] = static_cast<int8_t>((b + static_cast<size_t>(j)) % 3 == 0 ? 127 : -127);
                sum += x[b].q[j];
            }
            x[b].d = 0.01f;
            x[b].s = x[b].d * static_cast<float>(sum);
        }

        const std::vector<float> expected = run(KernelPath::scalar, w, x);
        for (KernelPath path : supported_kernel_paths()) {
            SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + std::string(gguf::type_name(type)));
            const std::vector<float> actual = run(path, w, x);
            for (int64_t r = 0; r < kRows; ++r) {
                const double tolerance = kOrderTolerance * std::fabs(expected[r]) + 1e-6;
                EXPECT_NEAR(actual[r], expected[r], tolerance) << "row " << r;
            }
        }
    }
}

TEST(QuantDot, ScalarMatchesBlockFormula) {
    std::mt19937 rng(3);
    for (GgmlType type : kTypes) {
        for (int64_t n_in : kWidths) {
            SCOPED_TRACE(case_name(type, n_in));
            const QuantRows w = make_rows(type, kRows, n_in, 0, rng);
            const std::vector<BlockQ8> x = quantize_scalar(make_activations(n_in, rng));
            const std::vector<float> y = run(KernelPath::scalar, w, x);
            for (int64_t r = 0; r < kRows; ++r) {
                EXPECT_NEAR(y[r], block_formula(w, r, x), kOrderTolerance * magnitude(w, r, x)) << "row " << r;
            }
        }
    }
}

// Quantizing the activations moves each x_i by at most d_a / 2, so the int8
// result is within Σ_blocks d_a / 2 · Σ |w_i| of the fp32 dot product, plus
// float rounding.
TEST(QuantDot, ScalarMatchesFp32WithinQuantizationBound) {
    std::mt19937 rng(5);
    for (GgmlType type : kTypes) {
        for (int64_t n_in : kWidths) {
            SCOPED_TRACE(case_name(type, n_in));
            const QuantRows w = make_rows(type, kRows, n_in, 0, rng);
            const std::vector<float> x = make_activations(n_in, rng);
            const std::vector<BlockQ8> xq = quantize_scalar(x);
            const std::vector<float> y = run(KernelPath::scalar, w, xq);

            std::vector<float> row(static_cast<size_t>(n_in));
            for (int64_t r = 0; r < kRows; ++r) {
                gguf::dequantize(type, w.data() + r * w.row_bytes, row.data(), n_in);
                double exact = 0.0;
                double bound = 0.0;
                for (int64_t b = 0; b < w.n_blocks(); ++b) {
                    double abs_sum = 0.0;
                    for (int64_t j = 0; j < kBlock; ++j) {
                        const size_t i = static_cast<size_t>(b * kBlock + j);
                        exact += static_cast<double>(row[i]) * x[i];
                        abs_sum += std::fabs(row[i]);
                    }
                    bound += xq[b].d / 2.0 * abs_sum;
                }
                bound = bound * (1.0 + 1e-4) + kOrderTolerance * magnitude(w, r, xq);
                EXPECT_NEAR(y[r], exact, bound) << "row " << r;
            }
        }
    }
}

// A sub-range writes y[0, o1 − o0) only, with the same values as the full
// range: a row's result must not depend on how rows are split among threads.
// The ranges put rows in different places of the kernels' row groups.
TEST(QuantDot, SubRangeWritesOnlyItsRows) {
    const int64_t n_in = 576;
    const int64_t ranges[][2] = {{3, 9}, {4, 11}, {1, 2}, {13, 15}, {5, 5}};
    const float sentinel = -12345.0f;
    std::mt19937 rng(13);
    for (KernelPath path : supported_kernel_paths()) {
        for (GgmlType type : kTypes) {
            const QuantRows w = make_rows(type, kRows, n_in, 0, rng);
            const std::vector<BlockQ8> x = quantize_scalar(make_activations(n_in, rng));
            const std::vector<float> full = run(path, w, x);

            for (const auto& [o0, o1] : ranges) {
                SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + std::string(gguf::type_name(type)) +
                             " rows [" + std::to_string(o0) + ", " + std::to_string(o1) + ")");
                std::vector<float> y(static_cast<size_t>(kRows), sentinel);
                dot_rows_on(path, type, w.data(), w.row_bytes, n_in, x.data(), o0, o1, y.data());
                for (int64_t i = 0; i < o1 - o0; ++i) EXPECT_EQ(y[i], full[o0 + i]) << "row " << o0 + i;
                for (int64_t i = o1 - o0; i < kRows; ++i) EXPECT_EQ(y[i], sentinel) << "y[" << i << "] was written";
            }
        }
    }
}

TEST(QuantDot, RejectsInvalidArguments) {
    std::mt19937 rng(17);
    const QuantRows w = make_rows(GgmlType::Q4_1, 4, 64, 0, rng);
    const std::vector<BlockQ8> x = quantize_scalar(make_activations(64, rng));
    std::vector<float> y(4);
    const KernelPath path = KernelPath::scalar;

    EXPECT_THROW(dot_rows_on(path, GgmlType::Q4_K, w.data(), w.row_bytes, 64, x.data(), 0, 4, y.data()),
                 std::invalid_argument);
    EXPECT_THROW(dot_rows_on(path, GgmlType::Q4_1, w.data(), w.row_bytes, 48, x.data(), 0, 4, y.data()),
                 std::invalid_argument);
    EXPECT_THROW(dot_rows_on(path, GgmlType::Q4_1, w.data(), w.row_bytes - 1, 64, x.data(), 0, 4, y.data()),
                 std::invalid_argument);
    EXPECT_THROW(dot_rows_on(path, GgmlType::Q4_1, w.data(), w.row_bytes, 64, x.data(), 3, 2, y.data()),
                 std::invalid_argument);
    EXPECT_THROW(quantize_row_q8_on(path, std::vector<float>(40).data(), 40, std::vector<BlockQ8>(2).data()),
                 std::invalid_argument);
}

// ---- fp32 activations ----

std::vector<float> run_f32(KernelPath path, const QuantRows& w, const float* x) {
    std::vector<float> y(static_cast<size_t>(w.n_rows));
    dot_rows_f32_on(path, w.type, w.data(), w.row_bytes, w.n_in, x, 0, w.n_rows, y.data());
    return y;
}

// The dot product of row r of w, dequantized by gguf::dequantize, with x,
// summed in double; and Σ |w_i x_i|, the scale of the rounding error of any
// order of fp32 summation.
struct Fp32Reference {
    double dot = 0.0;
    double magnitude = 0.0;
};

Fp32Reference dequantized_dot(const QuantRows& w, int64_t r, const float* x) {
    std::vector<float> row(static_cast<size_t>(w.n_in));
    gguf::dequantize(w.type, w.data() + r * w.row_bytes, row.data(), w.n_in);
    Fp32Reference ref;
    for (size_t i = 0; i < row.size(); ++i) {
        const double term = static_cast<double>(row[i]) * x[i];
        ref.dot += term;
        ref.magnitude += std::fabs(term);
    }
    return ref;
}

// Up to float summation order; the absolute term covers rows whose terms are
// all zero.
double f32_tolerance(const Fp32Reference& ref) { return kOrderTolerance * ref.magnitude + 1e-30; }

TEST(QuantDotF32, PathsMatchDequantizedDot) {
    std::mt19937 rng(29);
    for (KernelPath path : supported_kernel_paths()) {
        for (GgmlType type : kTypes) {
            for (int64_t n_in : kWidths) {
                SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + case_name(type, n_in));
                const QuantRows w = make_rows(type, kRows, n_in, n_in == 96 ? 3 : 0, rng);
                const std::vector<float> x = make_activations(n_in, rng);
                const std::vector<float> y = run_f32(path, w, x.data());
                for (int64_t r = 0; r < kRows; ++r) {
                    const Fp32Reference ref = dequantized_dot(w, r, x.data());
                    EXPECT_NEAR(y[r], ref.dot, f32_tolerance(ref)) << "row " << r;
                }
            }
        }
    }
}

TEST(QuantDotF32, PathsMatchScalar) {
    std::mt19937 rng(31);
    for (KernelPath path : supported_kernel_paths()) {
        if (path == KernelPath::scalar) continue;
        for (GgmlType type : kTypes) {
            for (int64_t n_in : kWidths) {
                SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + case_name(type, n_in));
                const QuantRows w = make_rows(type, kRows, n_in, n_in == 160 ? 1 : 0, rng);
                const std::vector<float> x = make_activations(n_in, rng);
                const std::vector<float> expected = run_f32(KernelPath::scalar, w, x.data());
                const std::vector<float> actual = run_f32(path, w, x.data());
                for (int64_t r = 0; r < kRows; ++r) {
                    EXPECT_NEAR(actual[r], expected[r], f32_tolerance(dequantized_dot(w, r, x.data()))) << "row " << r;
                }
            }
        }
    }
}

// Q4_1 blocks whose weights d · 7 + m are about 1e-4 of d · 7: a kernel that
// summed d · Σ q x and m · Σ x apart would lose the result to rounding. The
// weights are exact in fp32, so the kernels must match the dequantized dot.
TEST(QuantDotF32, Q4_1OffsetCancellation) {
    const int64_t n_in = 576;
    std::mt19937 rng(37);
    QuantRows w = make_rows(GgmlType::Q4_1, kRows, n_in, 0, rng);
    double d_stored = 0.0;
    double m_stored = 0.0;
    const uint16_t d = store_fp16(0.01, d_stored);
    const uint16_t m = store_fp16(-7.0 * d_stored, m_stored);
    ASSERT_NE(d_stored * 7.0 + m_stored, 0.0);
    for (int64_t r = 0; r < kRows; ++r) {
        for (int64_t b = 0; b < w.n_blocks(); ++b) {
            uint8_t* block = w.storage.data() + 1 + r * w.row_bytes + b * block_bytes(GgmlType::Q4_1);
            std::memcpy(block, &d, 2);
            std::memcpy(block + 2, &m, 2);
            std::memset(block + 4, 0x77, kBlock / 2);
        }
    }
    const std::vector<float> x = make_activations(n_in, rng);
    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        const std::vector<float> y = run_f32(path, w, x.data());
        for (int64_t r = 0; r < kRows; ++r) {
            const Fp32Reference ref = dequantized_dot(w, r, x.data());
            EXPECT_NEAR(y[r], ref.dot, f32_tolerance(ref)) << "row " << r;
        }
    }
}

// A sub-range writes y[0, o1 − o0) only, with the same bits as the full
// range, wherever the rows sit in the kernels' row groups.
TEST(QuantDotF32, SubRangeWritesOnlyItsRows) {
    const int64_t ranges[][2] = {{3, 9}, {4, 11}, {1, 2}, {13, 15}, {5, 5}, {2, 15}};
    const float sentinel = -12345.0f;
    std::mt19937 rng(41);
    for (KernelPath path : supported_kernel_paths()) {
        for (GgmlType type : kTypes) {
            for (int64_t n_in : {int64_t{96}, int64_t{576}}) {
                const QuantRows w = make_rows(type, kRows, n_in, 0, rng);
                const std::vector<float> x = make_activations(n_in, rng);
                const std::vector<float> full = run_f32(path, w, x.data());

                for (const auto& [o0, o1] : ranges) {
                    SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + case_name(type, n_in) + " rows [" +
                                 std::to_string(o0) + ", " + std::to_string(o1) + ")");
                    std::vector<float> y(static_cast<size_t>(kRows), sentinel);
                    dot_rows_f32_on(path, type, w.data(), w.row_bytes, n_in, x.data(), o0, o1, y.data());
                    for (int64_t i = 0; i < o1 - o0; ++i) EXPECT_EQ(y[i], full[o0 + i]) << "row " << o0 + i;
                    for (int64_t i = o1 - o0; i < kRows; ++i) {
                        EXPECT_EQ(y[i], sentinel) << "y[" << i << "] was written";
                    }
                }
            }
        }
    }
}

// The same rows copied to every byte offset in a 64-byte line, with x at
// every float offset in a line, give the same bits.
TEST(QuantDotF32, AddressDoesNotChangeResult) {
    const int64_t n_in = 160;
    std::mt19937 rng(43);
    for (KernelPath path : supported_kernel_paths()) {
        for (GgmlType type : kTypes) {
            SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + std::string(gguf::type_name(type)));
            const QuantRows w = make_rows(type, kRows, n_in, 0, rng);
            const std::vector<float> x = make_activations(n_in, rng);
            const std::vector<float> expected = run_f32(path, w, x.data());
            const size_t bytes = static_cast<size_t>(kRows) * w.row_bytes;

            for (size_t offset = 0; offset < 64; ++offset) {
                std::vector<uint8_t> moved_w(offset + bytes + 64);
                std::memcpy(moved_w.data() + offset, w.data(), bytes);
                std::vector<float> moved_x(static_cast<size_t>(n_in) + 16);
                const size_t x_offset = offset % 16;
                std::copy(x.begin(), x.end(), moved_x.begin() + static_cast<std::ptrdiff_t>(x_offset));

                std::vector<float> y(static_cast<size_t>(kRows));
                dot_rows_f32_on(path, type, moved_w.data() + offset, w.row_bytes, n_in, moved_x.data() + x_offset,
                                0, kRows, y.data());
                for (int64_t r = 0; r < kRows; ++r) {
                    EXPECT_EQ(y[r], expected[r]) << "row " << r << " at byte offset " << offset;
                }
            }
        }
    }
}

// Memory that ends where a PROT_NONE page begins, so a read past its end
// ends the test with SIGSEGV.
class GuardedBuffer {
public:
    explicit GuardedBuffer(size_t bytes) {
        page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        data_pages_ = (bytes + page_ - 1) / page_;
        void* p = mmap(nullptr, (data_pages_ + 1) * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
        base_ = static_cast<uint8_t*>(p);
        if (mprotect(base_ + data_pages_ * page_, page_, PROT_NONE) != 0) {
            munmap(base_, (data_pages_ + 1) * page_);
            throw std::runtime_error("mprotect failed");
        }
        end_ = base_ + data_pages_ * page_;
    }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;
    ~GuardedBuffer() { munmap(base_, (data_pages_ + 1) * page_); }

    // The first byte of the readable memory's last `bytes` bytes.
    uint8_t* tail(size_t bytes) const { return end_ - bytes; }

private:
    size_t page_ = 0;
    size_t data_pages_ = 0;
    uint8_t* base_ = nullptr;
    uint8_t* end_ = nullptr;
};

// Rows whose last byte, and an x whose last float, is the last readable
// byte: the kernels must not read past either, whatever the row count. The
// AVX-512 path reads scales 16 blocks at a time, so 512 ends a row with a
// whole group of 16 and 576 with a partial one.
TEST(QuantDotF32, ReadsNothingPastRowsOrX) {
    std::mt19937 rng(47);
    for (KernelPath path : supported_kernel_paths()) {
        for (GgmlType type : kTypes) {
            for (int64_t n_in : {int64_t{32}, int64_t{96}, int64_t{512}, int64_t{576}}) {
                for (int64_t n_rows : {int64_t{1}, int64_t{4}, int64_t{7}}) {
                    SCOPED_TRACE(std::string(kernel_path_name(path)) + " " + case_name(type, n_in) +
                                 " rows=" + std::to_string(n_rows));
                    const QuantRows w = make_rows(type, n_rows, n_in, 0, rng);
                    const std::vector<float> x = make_activations(n_in, rng);
                    const std::vector<float> expected = run_f32(path, w, x.data());

                    const size_t w_bytes = static_cast<size_t>(n_rows) * w.row_bytes;
                    const size_t x_bytes = static_cast<size_t>(n_in) * sizeof(float);
                    GuardedBuffer w_buffer(w_bytes);
                    GuardedBuffer x_buffer(x_bytes);
                    std::memcpy(w_buffer.tail(w_bytes), w.data(), w_bytes);
                    std::memcpy(x_buffer.tail(x_bytes), x.data(), x_bytes);

                    std::vector<float> y(static_cast<size_t>(n_rows));
                    dot_rows_f32_on(path, type, w_buffer.tail(w_bytes), w.row_bytes, n_in,
                                    reinterpret_cast<const float*>(x_buffer.tail(x_bytes)), 0, n_rows, y.data());
                    for (int64_t r = 0; r < n_rows; ++r) EXPECT_EQ(y[r], expected[r]) << "row " << r;
                }
            }
        }
    }
}

TEST(QuantDotF32, ActivePathMatchesItsOnVariant) {
    std::mt19937 rng(53);
    for (GgmlType type : kTypes) {
        SCOPED_TRACE(gguf::type_name(type));
        const QuantRows w = make_rows(type, kRows, 576, 0, rng);
        const std::vector<float> x = make_activations(576, rng);
        const std::vector<float> expected = run_f32(active_kernel_path(), w, x.data());
        std::vector<float> y(static_cast<size_t>(kRows));
        dot_rows_f32(type, w.data(), w.row_bytes, 576, x.data(), 0, kRows, y.data());
        for (int64_t r = 0; r < kRows; ++r) EXPECT_EQ(y[r], expected[r]) << "row " << r;
    }
}

TEST(QuantDotF32, RejectsInvalidArguments) {
    std::mt19937 rng(59);
    const QuantRows w = make_rows(GgmlType::Q4_1, 4, 64, 0, rng);
    const std::vector<float> x = make_activations(64, rng);
    std::vector<float> y(4);
    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::Q4_K, w.data(), w.row_bytes, 64, x.data(), 0, 4, y.data()),
                     std::invalid_argument);
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::F32, w.data(), w.row_bytes, 64, x.data(), 0, 4, y.data()),
                     std::invalid_argument);
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::Q4_1, w.data(), w.row_bytes, 48, x.data(), 0, 4, y.data()),
                     std::invalid_argument);
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::Q4_1, w.data(), w.row_bytes, -32, x.data(), 0, 4, y.data()),
                     std::invalid_argument);
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::Q4_1, w.data(), w.row_bytes - 1, 64, x.data(), 0, 4, y.data()),
                     std::invalid_argument);
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::Q4_1, w.data(), w.row_bytes, 64, x.data(), 3, 2, y.data()),
                     std::invalid_argument);
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::Q4_1, w.data(), w.row_bytes, 64, x.data(), -1, 2, y.data()),
                     std::invalid_argument);
    }
    EXPECT_THROW(dot_rows_f32(GgmlType::Q4_K, w.data(), w.row_bytes, 64, x.data(), 0, 4, y.data()),
                 std::invalid_argument);
}

TEST(QuantDotF32, UnsupportedTypeMessageNamesType) {
    const std::vector<float> x(32);
    try {
        dot_rows_f32_on(KernelPath::scalar, GgmlType::Q4_K, nullptr, 144, 32, x.data(), 0, 0, nullptr);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("fp32-activation"), std::string::npos) << message;
        EXPECT_NE(message.find("Q4_K"), std::string::npos) << message;
    }
}

// An empty range writes nothing, and rows of no elements give 0.
TEST(QuantDotF32, EmptyInputsWriteNothing) {
    std::mt19937 rng(61);
    const QuantRows w = make_rows(GgmlType::Q8_0, 4, 64, 0, rng);
    const std::vector<float> x = make_activations(64, rng);
    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        std::vector<float> y(4, -1.0f);
        dot_rows_f32_on(path, GgmlType::Q8_0, w.data(), w.row_bytes, 64, x.data(), 2, 2, y.data());
        for (float v : y) EXPECT_EQ(v, -1.0f);
        dot_rows_f32_on(path, GgmlType::Q8_0, w.data(), w.row_bytes, 0, x.data(), 0, 4, y.data());
        for (float v : y) EXPECT_EQ(v, 0.0f) << "a row of no elements has a dot product of 0";
    }
}

TEST(QuantDot, HasInt8KernelForBlockTypesOnly) {
    EXPECT_TRUE(has_int8_kernel(GgmlType::Q4_0));
    EXPECT_TRUE(has_int8_kernel(GgmlType::Q4_1));
    EXPECT_TRUE(has_int8_kernel(GgmlType::Q8_0));
    EXPECT_FALSE(has_int8_kernel(GgmlType::F32));
    EXPECT_FALSE(has_int8_kernel(GgmlType::Q4_K));
}

TEST(QuantizeRowQ8, ZeroBlockHasZeroScale) {
    std::vector<float> x(2 * kBlock, 0.0f);
    x[kBlock + 5] = -0.0f;
    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        std::vector<BlockQ8> out(2);
        std::memset(out.data(), 0x55, out.size() * sizeof(BlockQ8));
        quantize_row_q8_on(path, x.data(), static_cast<int64_t>(x.size()), out.data());
        for (const BlockQ8& block : out) {
            EXPECT_EQ(block.d, 0.0f);
            EXPECT_EQ(block.s, 0.0f);
            for (int8_t q : block.q) EXPECT_EQ(q, 0);
        }
    }
}

TEST(QuantizeRowQ8, MaxMagnitudeMapsTo127) {
    std::vector<float> x(2 * kBlock);
    for (int64_t j = 0; j < 2 * kBlock; ++j) x[static_cast<size_t>(j)] = 0.01f * static_cast<float>(j % 7) - 0.02f;
    x[4] = 3.7f;
    x[kBlock + 9] = -0.9f;
    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        std::vector<BlockQ8> out(2);
        quantize_row_q8_on(path, x.data(), static_cast<int64_t>(x.size()), out.data());
        EXPECT_EQ(out[0].q[4], 127);
        EXPECT_FLOAT_EQ(out[0].d, 3.7f / 127.0f);
        EXPECT_EQ(out[1].q[9], -127);
        EXPECT_FLOAT_EQ(out[1].d, 0.9f / 127.0f);
    }
}

// |x − d q| ≤ d / 2, up to the rounding of x / d (127 ulps of 1 at most).
TEST(QuantizeRowQ8, RoundTripWithinHalfStep) {
    std::mt19937 rng(19);
    const std::vector<float> x = make_activations(1536, rng);
    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        std::vector<BlockQ8> out(x.size() / kBlock);
        quantize_row_q8_on(path, x.data(), static_cast<int64_t>(x.size()), out.data());
        for (size_t b = 0; b < out.size(); ++b) {
            int32_t sum = 0;
            for (int64_t j = 0; j < kBlock; ++j) {
                const double restored = static_cast<double>(out[b].d) * out[b].q[j];
                EXPECT_LE(std::fabs(x[b * kBlock + static_cast<size_t>(j)] - restored), out[b].d * (0.5 + 1e-4))
                    << "block " << b << " element " << j;
                EXPECT_GE(out[b].q[j], -127);
                sum += out[b].q[j];
            }
            EXPECT_EQ(out[b].s, out[b].d * static_cast<float>(sum)) << "block " << b;
        }
    }
}

// With d = 1 every x / d is exact, so halves show the rounding rule.
TEST(QuantizeRowQ8, TiesRoundToEven) {
    std::vector<float> x(kBlock, 0.0f);
    x[0] = 127.0f;
    const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f};
    const int8_t expected[] = {0, 2, 2, 0, -2, -2, 126};
    for (size_t i = 0; i < std::size(ties); ++i) x[1 + i] = ties[i];

    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        BlockQ8 out;
        quantize_row_q8_on(path, x.data(), kBlock, &out);
        ASSERT_EQ(out.d, 1.0f);
        for (size_t i = 0; i < std::size(ties); ++i) EXPECT_EQ(out.q[1 + i], expected[i]) << "x = " << ties[i];
    }
}

TEST(QuantizeRowQ8, PathsWriteIdenticalBlocks) {
    std::mt19937 rng(23);
    std::vector<float> x = make_activations(1536, rng);
    for (int64_t j = 0; j < kBlock; ++j) x[static_cast<size_t>(2 * kBlock + j)] = static_cast<float>(j) - 15.5f;
    for (int64_t j = 0; j < kBlock; ++j) {
        x[static_cast<size_t>(3 * kBlock + j)] = 1e-37f * static_cast<float>(j - 15);  // subnormal scale
    }

    std::vector<BlockQ8> expected(x.size() / kBlock);
    quantize_row_q8_on(KernelPath::scalar, x.data(), static_cast<int64_t>(x.size()), expected.data());
    for (KernelPath path : supported_kernel_paths()) {
        SCOPED_TRACE(kernel_path_name(path));
        std::vector<BlockQ8> actual(x.size() / kBlock);
        quantize_row_q8_on(path, x.data(), static_cast<int64_t>(x.size()), actual.data());
        for (size_t b = 0; b < expected.size(); ++b) {
            EXPECT_EQ(actual[b].d, expected[b].d) << "block " << b;
            EXPECT_EQ(actual[b].s, expected[b].s) << "block " << b;
            EXPECT_EQ(std::memcmp(actual[b].q, expected[b].q, kBlock), 0) << "block " << b;
        }
    }
}

TEST(KernelPath, ParseAcceptsSupportedNames) {
    for (KernelPath path : supported_kernel_paths()) EXPECT_EQ(parse_kernel_path(kernel_path_name(path)), path);
}

TEST(KernelPath, ParseRejectsUnknownValue) {
    try {
        parse_kernel_path("avx9000");
        FAIL() << "expected std::runtime_error";
    } catch (const std::runtime_error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("avx9000"), std::string::npos) << message;
        EXPECT_NE(message.find("scalar, avx2, avx512vnni"), std::string::npos) << message;
        EXPECT_NE(message.find("this CPU supports: scalar"), std::string::npos) << message;
    }
}

TEST(KernelPath, ParseRejectsPathTheCpuLacks) {
    const auto supported = supported_kernel_paths();
    for (KernelPath path : {KernelPath::avx2, KernelPath::avx512vnni}) {
        if (std::find(supported.begin(), supported.end(), path) != supported.end()) continue;
        EXPECT_THROW(parse_kernel_path(kernel_path_name(path)), std::runtime_error);
        EXPECT_THROW(dot_rows_on(path, GgmlType::Q8_0, nullptr, 34, 32, nullptr, 0, 0, nullptr), std::invalid_argument);
        EXPECT_THROW(dot_rows_f32_on(path, GgmlType::Q8_0, nullptr, 34, 32, nullptr, 0, 0, nullptr),
                     std::invalid_argument);
        return;
    }
    GTEST_SKIP() << "this CPU runs every kernel path";
}

TEST(KernelPath, SupportedListStartsWithScalar) {
    const auto supported = supported_kernel_paths();
    ASSERT_FALSE(supported.empty());
    EXPECT_EQ(supported.front(), KernelPath::scalar);
}

// Unset, the active path is the fastest one; set, it is the value's path, or
// an invalid value makes every call throw.
TEST(KernelPath, ActivePathFollowsEnvironment) {
    const char* value = std::getenv("COMPACTOR_KERNEL");
    if (value == nullptr || *value == '\0') {
        EXPECT_EQ(active_kernel_path(), supported_kernel_paths().back());
        return;
    }

    KernelPath expected{};
    try {
        expected = parse_kernel_path(value);
    } catch (const std::runtime_error&) {
        EXPECT_THROW(active_kernel_path(), std::runtime_error);
        EXPECT_THROW(active_kernel_path(), std::runtime_error) << "the second call must throw too";
        return;
    }
    EXPECT_EQ(active_kernel_path(), expected);
}

TEST(KernelPath, NamesMatchEnvironmentValues) {
    EXPECT_EQ(kernel_path_name(KernelPath::scalar), "scalar");
    EXPECT_EQ(kernel_path_name(KernelPath::avx2), "avx2");
    EXPECT_EQ(kernel_path_name(KernelPath::avx512vnni), "avx512vnni");
}

}  // namespace
}  // namespace compactor::quant
