// compactor-bench-libs: compactor_engine
// Online calibration's cost next to the prefill it follows: the bundled
// document cut to n_tokens, prefilled once with each weight format, then
// calibrate_online() once per quality budget τ. The target is a cost below
// 25% of the prefill at 4k tokens.
//
//   online_calibration_cost [model.gguf] [n_tokens=4096] [n_threads=2]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench_support.h"
#include "compactor/engine.h"
#include "engine/stopwatch.h"

namespace {

using namespace compactor;

// The document's first n_tokens tokens as text (the whole document when shorter).
std::string first_tokens(const Engine& engine, const std::string& text, int64_t n_tokens) {
    std::vector<int32_t> tokens = engine.tokenizer().encode(text, /*parse_special=*/false);
    if (static_cast<int64_t>(tokens.size()) > n_tokens) tokens.resize(static_cast<size_t>(n_tokens));
    return engine.tokenizer().decode(tokens);
}

void measure(const std::string& model_path, WeightFormat weights, const char* weights_name, int64_t n_tokens,
             int n_threads) {
    Engine engine(model_path, n_threads, weights);
    const std::string document = first_tokens(engine, bench::bundled_document(), n_tokens);

    DocumentOptions options;
    options.nll_stride = 0;  // online calibration does not use the context NLL
    const Stopwatch prefill_time;
    const DocumentSession full = engine.open_document(document, options);
    const double prefill_s = prefill_time.elapsed_s();
    std::printf("\nweights %s, %d threads: %lld context tokens, prefill %.2f s\n", weights_name, n_threads,
                static_cast<long long>(full.n_context_tokens()), prefill_s);
    std::printf("%6s %6s %11s %12s %10s %11s\n", "tau", "kept", "candidates", "probe tokens", "seconds",
                "of prefill");

    const OnlineCalibrationOptions probes;
    for (const double tau : {0.9, 0.95, 0.99}) {
        const OnlineCalibration result = full.calibrate_online(options.compression, tau, probes);
        std::printf("%6.2f %6.2f %11zu %12lld %10.2f %10.1f%%\n", tau, result.kept_fraction,
                    result.candidates.size(), static_cast<long long>(result.n_probe_tokens), result.seconds,
                    100.0 * result.seconds / prefill_s);
    }
}

int run(int argc, char** argv) {
    const std::string model_path = argc > 1 ? argv[1] : bench::default_model_path();
    const int64_t n_tokens = argc > 2 ? std::atoll(argv[2]) : 4096;
    const int n_threads = argc > 3 ? std::atoi(argv[3]) : 2;
    if (n_tokens < 256 || n_threads < 1) {
        throw std::invalid_argument("n_tokens must be at least 256 and n_threads at least 1");
    }
    measure(model_path, WeightFormat::quantized, "quantized", n_tokens, n_threads);
    measure(model_path, WeightFormat::fp32, "fp32", n_tokens, n_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return compactor::bench::bench_main("online_calibration_cost", argc, argv, run); }
