// linear() on a WeightMatrix: the fp32 path, or the two quantized paths.
#include <algorithm>
#include <vector>

#include <cblas.h>

#include "model/linear.h"
#include "model/quant_dot.h"

namespace compactor {

namespace {

// fp32 values per dequantized tile: 256 KiB, so a tile stays in L2 while
// sgemm reads it once per block of tokens.
constexpr int64_t kTileFloats = int64_t{1} << 16;

// Same slicing as the fp32 path: a few slices per thread, at least 64 rows each.
int64_t slice_count(int64_t n_out, const ThreadPool& pool) {
    return std::clamp<int64_t>(n_out / 64, 1, int64_t{4} * pool.n_threads());
}

// Run dot(t, o0, o1) for every token t over slices [o0, o1) of w's rows,
// the slices spread over the pool.
template <typename Dot>
void for_row_slices(int64_t n_tokens, const WeightMatrix& w, ThreadPool& pool, const Dot& dot) {
    const int64_t n_out = w.n_out();
    const int64_t n_slices = slice_count(n_out, pool);
    pool.parallel_for(n_slices, [&](int64_t i) {
        const int64_t o0 = n_out * i / n_slices;
        const int64_t o1 = n_out * (i + 1) / n_slices;
        for (int64_t t = 0; t < n_tokens; ++t) dot(t, o0, o1);
    });
}

// Decode with fp32 activations: dot products straight from the blocks.
void linear_blocks_f32(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, ThreadPool& pool) {
    const int64_t n_in = w.n_in();
    const int64_t n_out = w.n_out();
    for_row_slices(n_tokens, w, pool, [&](int64_t t, int64_t o0, int64_t o1) {
        quant::dot_rows_f32(w.type(), w.blocks(), w.row_bytes(), n_in, x + t * n_in, o0, o1, y + t * n_out + o0);
    });
}

// Decode with int8 activations: quantize each token's activations once, then
// take int8 dot products with them.
void linear_blocks_int8(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, ThreadPool& pool) {
    const int64_t n_in = w.n_in();
    const int64_t n_out = w.n_out();
    const int64_t n_blocks = n_in / quant::kBlock;

    // Per calling thread and only growing, so decode steps do not allocate.
    thread_local std::vector<quant::BlockQ8> x_q8;
    if (x_q8.size() < static_cast<size_t>(n_tokens * n_blocks)) x_q8.resize(static_cast<size_t>(n_tokens * n_blocks));
    for (int64_t t = 0; t < n_tokens; ++t) quant::quantize_row_q8(x + t * n_in, n_in, x_q8.data() + t * n_blocks);

    const quant::BlockQ8* xq = x_q8.data();
    for_row_slices(n_tokens, w, pool, [&](int64_t t, int64_t o0, int64_t o1) {
        quant::dot_rows(w.type(), w.blocks(), w.row_bytes(), n_in, xq + t * n_blocks, o0, o1, y + t * n_out + o0);
    });
}

// Prefill: each slice dequantizes tiles of rows into a per-thread buffer and
// multiplies every token with them through sgemm.
void linear_dequant_tiles(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, ThreadPool& pool) {
    const int64_t n_in = w.n_in();
    const int64_t n_out = w.n_out();
    const int64_t tile_rows = std::max<int64_t>(16, kTileFloats / n_in);
    const int64_t n_slices = slice_count(n_out, pool);

    pool.parallel_for(n_slices, [&](int64_t i) {
        thread_local std::vector<float> tile;
        if (tile.size() < static_cast<size_t>(tile_rows * n_in)) tile.resize(static_cast<size_t>(tile_rows * n_in));

        const int64_t slice_end = n_out * (i + 1) / n_slices;
        for (int64_t o0 = n_out * i / n_slices; o0 < slice_end; o0 += tile_rows) {
            const int64_t o1 = std::min(o0 + tile_rows, slice_end);
            w.dequantize_rows(o0, o1, tile.data());
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n_tokens),
                        static_cast<blasint>(o1 - o0), static_cast<blasint>(n_in), 1.0f, x,
                        static_cast<blasint>(n_in), tile.data(), static_cast<blasint>(n_in), 0.0f, y + o0,
                        static_cast<blasint>(n_out));
        }
    });
}

}  // namespace

void linear(const float* x, int64_t n_tokens, const WeightMatrix& w, const float* bias, float* y,
            ThreadPool& pool) {
    if (!w.is_quantized()) {
        linear(x, n_tokens, w.n_in(), w.fp32(), w.n_out(), bias, y, pool);
        return;
    }

    if (n_tokens > kBlockDotMaxTokens) {
        linear_dequant_tiles(x, n_tokens, w, y, pool);
    } else if (w.int8_activations()) {
        linear_blocks_int8(x, n_tokens, w, y, pool);
    } else {
        linear_blocks_f32(x, n_tokens, w, y, pool);
    }
    if (bias != nullptr) add_bias(bias, n_tokens, w.n_out(), y);
}

}  // namespace compactor
