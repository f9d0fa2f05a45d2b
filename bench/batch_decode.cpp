// compactor-bench-libs: compactor_engine
// Batched against one-at-a-time answering: one prefill of the bundled
// document, n_copies compressed copies at ratios spread over 0.25 .. 0.9,
// then the same question answered from every copy, once with
// generate_batch() and once (on three copies, extrapolated) with
// DocumentSession::answer().
//
//   batch_decode [model.gguf] [n_copies=48] [max_tokens=32] [n_threads=2]
//
// Memory: every copy holds its own compressed cache, about 4 GiB for 48
// copies of the 4.3k-token document with SmolLM2-135M.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench_support.h"
#include "compactor/engine.h"
#include "engine/batch_generate.h"
#include "engine/prompt_format.h"
#include "engine/stopwatch.h"

namespace {

using namespace compactor;

// A question that keeps the model talking, so every copy decodes max_tokens.
constexpr const char* kQuestion = "Describe in detail everything that happens in this chapter, in order.";

double ratio_of_copy(int i, int n_copies) {
    return n_copies == 1 ? 0.25 : 0.25 + 0.65 * static_cast<double>(i) / (n_copies - 1);
}

int run(int argc, char** argv) {
    const std::string model_path = argc > 1 ? argv[1] : bench::default_model_path();
    const int n_copies = argc > 2 ? std::atoi(argv[2]) : 48;
    const int64_t max_tokens = argc > 3 ? std::atoll(argv[3]) : 32;
    const int n_threads = argc > 4 ? std::atoi(argv[4]) : 2;
    if (n_copies < 1 || max_tokens < 1) throw std::invalid_argument("n_copies and max_tokens must be positive");

    Engine engine(model_path, n_threads);
    const DocumentOptions options;
    Stopwatch prefill_time;
    const DocumentSession full =
        engine.open_document(bench::bundled_document(), options);
    std::printf("document: %lld tokens, prefill %.2f s\n", static_cast<long long>(full.n_context_tokens()),
                prefill_time.elapsed_s());

    // Compressed caches; only the cache of each copy is kept
    std::vector<KvCache> caches;
    caches.reserve(static_cast<size_t>(n_copies));
    int64_t total_rows = 0;
    Stopwatch compress_time;
    for (int i = 0; i < n_copies; ++i) {
        DocumentSession copy = full;
        CompressionOptions compression = options.compression;
        compression.ratio = ratio_of_copy(i, n_copies);
        copy.compress(compression);
        caches.push_back(copy.cache());
        total_rows += caches.back().total_rows();
    }
    std::printf("copies: %d, ratios 0.25 .. 0.90, %.1f MiB of caches, compressed in %.2f s\n", n_copies,
                static_cast<double>(total_rows) * engine.config().head_dim * 2 * sizeof(float) / (1024.0 * 1024.0),
                compress_time.elapsed_s());

    // One at a time: three copies across the ratio range, extrapolated
    GenerationOptions generation;
    generation.max_tokens = max_tokens;
    double sequential_s = 0;
    int64_t sequential_tokens = 0;
    const std::vector<int> sampled = {0, n_copies / 2, n_copies - 1};
    for (const int i : sampled) {
        DocumentSession copy = full;
        CompressionOptions compression = options.compression;
        compression.ratio = ratio_of_copy(i, n_copies);
        copy.compress(compression);
        Stopwatch answer_time;
        const Answer answer = copy.answer(kQuestion, generation);
        const double elapsed = answer_time.elapsed_s();
        sequential_s += elapsed;
        sequential_tokens += answer.n_generated_tokens;
        std::printf("one at a time, ratio %.2f: %lld tokens in %.2f s (question prefill %.2f s, decode %.2f s)\n",
                    compression.ratio, static_cast<long long>(answer.n_generated_tokens), elapsed, answer.prefill_s,
                    answer.decode_s);
    }
    const double per_copy_s = sequential_s / static_cast<double>(sampled.size());

    // All copies in one batch
    std::vector<GenerationRequest> requests;
    const std::vector<int32_t> prompt = encode_question_suffix(engine.tokenizer(), engine.chat_template(), kQuestion);
    for (KvCache& cache : caches) requests.push_back({&cache, prompt, max_tokens});
    Stopwatch batch_time;
    const std::vector<Generation> generations = generate_batch(engine.model(), engine.tokenizer(), requests, n_copies);
    const double batch_s = batch_time.elapsed_s();
    int64_t batch_tokens = 0;
    for (const Generation& g : generations) batch_tokens += static_cast<int64_t>(g.tokens.size());

    std::printf("batched: %d copies, %lld tokens in %.2f s (prompt prefill %.2f s, %.1f tokens/s)\n", n_copies,
                static_cast<long long>(batch_tokens), batch_s, generations.front().prefill_s,
                static_cast<double>(batch_tokens) / batch_s);
    std::printf("one at a time (extrapolated from %zu copies, %.1f tokens/s): %.1f s for %d copies\n",
                sampled.size(), static_cast<double>(sequential_tokens) / sequential_s, per_copy_s * n_copies,
                n_copies);
    std::printf("speedup: %.1fx (threads %d)\n", per_copy_s * n_copies / batch_s, n_threads);
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return compactor::bench::bench_main("batch_decode", argc, argv, run); }
