// compactor-bench-libs: compactor_model
// sgemm GFLOP/s of the OpenBLAS that compactor links, at the matrix shapes a
// 512-token prefill chunk of SmolLM2-135M multiplies and at a large square
// shape: the machine's practical ceiling, against which prefill's achieved
// FLOP/s is judged (tools/bench_side_by_side.py).
//
//   build-dir/bin/sgemm_gflops [--threads=N] [--benchmark_format=json]
//
// Each product runs three ways. blas_1t is one cblas_sgemm call with OpenBLAS
// on one thread. blas_Nt is one call with OpenBLAS on N threads of its own.
// linear_Nt is compactor::linear on a ThreadPool of N threads: each thread
// calls single-threaded sgemm on a slice of the weight rows, as the forward
// pass does. N is --threads, and 0 or no flag means all cores.
#include <cblas.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "model/linear.h"
#include "model/thread_pool.h"
#include "model/threads.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace {

// y [m × n] = x [m × k] · wᵀ with w [n × k], as the forward pass's projections.
struct Shape {
    const char* name;
    int64_t m;
    int64_t n;
    int64_t k;
};

// SmolLM2-135M: n_embd 576, 9 query heads and 3 KV heads of 64, n_ff 1536;
// one prefill chunk is 512 tokens. Attention products are per head at a
// 4096-token context.
constexpr Shape kShapes[] = {
    {"q_o_proj", 512, 576, 576},     {"k_v_proj", 512, 192, 576},     {"gate_up", 512, 1536, 576},
    {"down", 512, 576, 1536},        {"attn_qk_4k", 512, 4096, 64},   {"attn_pv_4k", 512, 64, 4096},
    {"square_2048", 2048, 2048, 2048},
};

struct Operands {
    std::vector<float> x, w, y;
};

Operands make_operands(const Shape& s) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    Operands o;
    o.x.resize(static_cast<size_t>(s.m * s.k));
    o.w.resize(static_cast<size_t>(s.n * s.k));
    o.y.resize(static_cast<size_t>(s.m * s.n));
    for (float& v : o.x) v = dist(rng);
    for (float& v : o.w) v = dist(rng);
    return o;
}

void set_counters(benchmark::State& state, const Shape& s, int n_threads) {
    const double flop = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
    state.counters["GFLOP/s"] = benchmark::Counter(flop / 1e9, benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::OneK::kIs1000);
    state.counters["threads"] = n_threads;
    state.counters["m"] = static_cast<double>(s.m);
    state.counters["n"] = static_cast<double>(s.n);
    state.counters["k"] = static_cast<double>(s.k);
}

void run_blas(benchmark::State& state, Shape s, int n_threads) {
    Operands o = make_operands(s);
    openblas_set_num_threads(n_threads);
    for (auto _ : state) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(s.m), static_cast<blasint>(s.n),
                    static_cast<blasint>(s.k), 1.0f, o.x.data(), static_cast<blasint>(s.k), o.w.data(),
                    static_cast<blasint>(s.k), 0.0f, o.y.data(), static_cast<blasint>(s.n));
        benchmark::DoNotOptimize(o.y.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, s, n_threads);
}

void run_linear(benchmark::State& state, Shape s, compactor::ThreadPool* pool) {
    Operands o = make_operands(s);
    const compactor::SingleThreadedBlas single_threaded;
    for (auto _ : state) {
        compactor::linear(o.x.data(), s.m, s.k, o.w.data(), s.n, nullptr, o.y.data(), *pool);
        benchmark::DoNotOptimize(o.y.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, s, pool->n_threads());
}

// Reads and removes --threads=N from argv; returns 0 when absent.
int take_threads_flag(int& argc, char** argv) {
    int n_threads = 0;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind("--threads=", 0) == 0) {
            n_threads = std::atoi(arg.c_str() + 10);
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    return n_threads;
}

}  // namespace

int main(int argc, char** argv) {
    const int n_threads = compactor::resolve_thread_count(take_threads_flag(argc, argv));
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    compactor::ThreadPool pool(n_threads);
    for (const Shape& s : kShapes) {
        const std::string shape = fmt::format("{}/{}x{}x{}", s.name, s.m, s.n, s.k);
        benchmark::RegisterBenchmark(fmt::format("blas_1t/{}", shape).c_str(), run_blas, s, 1)->UseRealTime();
        if (n_threads > 1) {
            benchmark::RegisterBenchmark(fmt::format("blas_{}t/{}", n_threads, shape).c_str(), run_blas, s, n_threads)
                ->UseRealTime();
        }
        benchmark::RegisterBenchmark(fmt::format("linear_{}t/{}", n_threads, shape).c_str(), run_linear, s, &pool)
            ->UseRealTime();
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
