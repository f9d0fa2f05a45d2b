#include "compress/scorer_registry.h"

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "compress/chunked_attention_scorer.h"
#include "compress/compactor_scorer.h"
#include "compress/leverage_scorer.h"

namespace compactor {

namespace {

using Factory = std::unique_ptr<Scorer> (*)(const CompressionOptions&, const ModelShape&);

struct Method {
    const char* name;
    Factory factory;  // nullptr for "none"
};

// The order is the order of method_names() and of every report.
const Method kMethods[] = {
    {"none", nullptr},
    {"compactor", make_compactor_scorer},
    {"leverage", make_leverage_scorer},
    {"chunked_attention", make_chunked_attention_scorer},
    {"exact_leverage", make_exact_leverage_scorer},
    {"streaming_llm", make_streaming_llm_scorer},
    {"knorm", make_knorm_scorer},
    {"random", make_random_scorer},
    {"snapkv", make_snapkv_scorer},
    {"pyramidkv", make_pyramidkv_scorer},
    {"expected_attention", make_expected_attention_scorer},
    {"tova", make_tova_scorer},
    {"keydiff", make_keydiff_scorer},
    {"kvzip", make_kvzip_scorer},
};

}  // namespace

const std::vector<std::string>& method_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const Method& m : kMethods) out.emplace_back(m.name);
        return out;
    }();
    return names;
}

std::unique_ptr<Scorer> make_scorer(const CompressionOptions& options, const ModelShape& shape) {
    validate(options);
    for (const Method& m : kMethods) {
        if (options.method != m.name) continue;
        return m.factory != nullptr ? m.factory(options, shape) : nullptr;
    }
    throw std::invalid_argument(fmt::format("compression method '{}' is unknown; use one of {}", options.method,
                                            fmt::join(method_names(), ", ")));
}

std::unique_ptr<Scorer> make_compactor_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<CompactorScorer>(options, shape);
}

std::unique_ptr<Scorer> make_leverage_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<LeverageScorer>(options, shape);
}

std::unique_ptr<Scorer> make_chunked_attention_scorer(const CompressionOptions& options, const ModelShape& shape) {
    return std::make_unique<ChunkedAttentionScorer>(options, shape);
}

ModelShape model_shape(const ModelConfig& config) {
    ModelShape shape;
    shape.n_layer = config.n_layer;
    shape.n_head = config.n_head;
    shape.n_head_kv = config.n_head_kv;
    shape.head_dim = config.head_dim;
    shape.n_rot = config.n_rot;
    shape.rope_mode = config.rope_mode;
    shape.rope_freq_base = config.rope_freq_base;
    return shape;
}

}  // namespace compactor
