// compactor-bench-libs: compactor_model
// Single-thread matrix-vector products at the shapes one decoded token of
// SmolLM2-135M multiplies: fp32 cblas_sgemv on dequantized weights against
// the kernels on the quantized blocks, quant::dot_rows (int8 activations)
// and quant::dot_rows_f32 (fp32 activations), on every kernel path this CPU
// runs.
//
//   build-dir/bin/quant_matvec [--benchmark_filter=REGEX] [--benchmark_format=json]
//
// bytes_per_second counts the weight bytes each product reads (4 per weight
// for fp32, the block size for the quantized types), so the rates of one shape
// compare how fast each variant streams its weights. The int8 variants also
// quantize the input vector in every iteration, as a decode step does.
// Random weights stand in for the model's: the kernels' speed does not depend
// on the values. The per-layer matrices stay in L2 across iterations, so
// their rates are compute rates; output and gate_up_30_layers are read from
// L3 or memory.
#include <cblas.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "gguf/dequant.h"
#include "model/quant_dot.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace {

using compactor::gguf::GgmlType;
namespace quant = compactor::quant;

// y [n_out] = W [n_out × n_in] · x.
struct Shape {
    const char* name;
    GgmlType type;
    int64_t n_out;
    int64_t n_in;
};

// SmolLM2-135M: n_embd 576, 9 query heads and 3 KV heads of 64, n_ff 1536,
// vocabulary 49152. The GGUF Q4_1 file keeps the tied embedding and output
// matrix in Q8_0.
constexpr Shape kShapes[] = {
    {"q_o_proj", GgmlType::Q4_1, 576, 576},   {"k_v_proj", GgmlType::Q4_1, 192, 576},
    {"gate_up", GgmlType::Q4_1, 1536, 576},   {"down", GgmlType::Q4_1, 576, 1536},
    {"output", GgmlType::Q8_0, 49152, 576},
    // All 30 layers' gate and up projections as one 32 MiB matrix, larger
    // than L2, so its rate is closer to that of a whole decode step.
    {"gate_up_30_layers", GgmlType::Q4_1, 30 * 2 * 1536, 576},
};

struct Operands {
    std::vector<uint8_t> blocks;  // n_out rows of quantized blocks
    std::vector<float> x;
    std::vector<float> y;
};

// Random quants with small fp16 scales and offsets.
Operands make_operands(const Shape& s) {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(0.001f, 0.02f);
    std::normal_distribution<float> value(0.0f, 1.0f);

    Operands o;
    const size_t block_bytes = compactor::gguf::type_size(s.type);
    const size_t n_blocks = static_cast<size_t>(s.n_out * s.n_in / quant::kBlock);
    o.blocks.resize(n_blocks * block_bytes);
    for (uint8_t& b : o.blocks) b = static_cast<uint8_t>(byte(rng));

    // Scales sit in the first two bytes of each block, and Q4_1's offset in the next two.
    for (size_t b = 0; b < n_blocks; ++b) {
        uint8_t* block = o.blocks.data() + b * block_bytes;
        const uint16_t d = compactor::gguf::fp32_to_fp16(scale(rng));
        std::memcpy(block, &d, 2);
        if (s.type == GgmlType::Q4_1) {
            const uint16_t m = compactor::gguf::fp32_to_fp16(-8.0f * scale(rng));
            std::memcpy(block + 2, &m, 2);
        }
    }

    o.x.resize(static_cast<size_t>(s.n_in));
    for (float& v : o.x) v = value(rng);
    o.y.resize(static_cast<size_t>(s.n_out));
    return o;
}

void set_counters(benchmark::State& state, const Shape& s, size_t weight_bytes) {
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(weight_bytes));
    state.counters["n_out"] = static_cast<double>(s.n_out);
    state.counters["n_in"] = static_cast<double>(s.n_in);
}

void run_sgemv(benchmark::State& state, Shape s) {
    Operands o = make_operands(s);
    std::vector<float> w(static_cast<size_t>(s.n_out * s.n_in));
    compactor::gguf::dequantize(s.type, o.blocks.data(), w.data(), s.n_out * s.n_in);
    o.blocks = {};
    openblas_set_num_threads(1);

    for (auto _ : state) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<blasint>(s.n_out), static_cast<blasint>(s.n_in), 1.0f,
                    w.data(), static_cast<blasint>(s.n_in), o.x.data(), 1, 0.0f, o.y.data(), 1);
        benchmark::DoNotOptimize(o.y.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, s, w.size() * sizeof(float));
}

void run_int8(benchmark::State& state, Shape s, quant::KernelPath path) {
    Operands o = make_operands(s);
    const size_t row_bytes = compactor::gguf::row_size(s.type, s.n_in);
    std::vector<quant::BlockQ8> xq(static_cast<size_t>(s.n_in / quant::kBlock));

    for (auto _ : state) {
        quant::quantize_row_q8_on(path, o.x.data(), s.n_in, xq.data());
        quant::dot_rows_on(path, s.type, o.blocks.data(), row_bytes, s.n_in, xq.data(), 0, s.n_out, o.y.data());
        benchmark::DoNotOptimize(o.y.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, s, o.blocks.size());
}

void run_f32(benchmark::State& state, Shape s, quant::KernelPath path) {
    Operands o = make_operands(s);
    const size_t row_bytes = compactor::gguf::row_size(s.type, s.n_in);

    for (auto _ : state) {
        quant::dot_rows_f32_on(path, s.type, o.blocks.data(), row_bytes, s.n_in, o.x.data(), 0, s.n_out, o.y.data());
        benchmark::DoNotOptimize(o.y.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, s, o.blocks.size());
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    for (const Shape& s : kShapes) {
        const std::string shape = fmt::format("{}/{}/{}x{}", s.name, compactor::gguf::type_name(s.type), s.n_out, s.n_in);
        benchmark::RegisterBenchmark(fmt::format("sgemv_fp32/{}", shape).c_str(), run_sgemv, s)->UseRealTime();
        for (quant::KernelPath path : quant::supported_kernel_paths()) {
            benchmark::RegisterBenchmark(fmt::format("int8_{}/{}", quant::kernel_path_name(path), shape).c_str(),
                                         run_int8, s, path)
                ->UseRealTime();
        }
        for (quant::KernelPath path : quant::supported_kernel_paths()) {
            benchmark::RegisterBenchmark(fmt::format("f32_{}/{}", quant::kernel_path_name(path), shape).c_str(),
                                         run_f32, s, path)
                ->UseRealTime();
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
