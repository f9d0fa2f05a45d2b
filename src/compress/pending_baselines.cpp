// Placeholders for the baseline scorers while they are being written; each
// is removed from here when its own file defines it.
#include <stdexcept>

#include "compress/scorer_registry.h"

namespace compactor {

namespace {

[[noreturn]] void not_built(const char* method) {
    throw std::invalid_argument(std::string("compression method '") + method + "' is not built yet");
}

}  // namespace

std::unique_ptr<Scorer> make_exact_leverage_scorer(const CompressionOptions&, const ModelShape&) { not_built("exact_leverage"); }
std::unique_ptr<Scorer> make_streaming_llm_scorer(const CompressionOptions&, const ModelShape&) { not_built("streaming_llm"); }
std::unique_ptr<Scorer> make_knorm_scorer(const CompressionOptions&, const ModelShape&) { not_built("knorm"); }
std::unique_ptr<Scorer> make_random_scorer(const CompressionOptions&, const ModelShape&) { not_built("random"); }
std::unique_ptr<Scorer> make_snapkv_scorer(const CompressionOptions&, const ModelShape&) { not_built("snapkv"); }
std::unique_ptr<Scorer> make_pyramidkv_scorer(const CompressionOptions&, const ModelShape&) { not_built("pyramidkv"); }
std::unique_ptr<Scorer> make_tova_scorer(const CompressionOptions&, const ModelShape&) { not_built("tova"); }
std::unique_ptr<Scorer> make_keydiff_scorer(const CompressionOptions&, const ModelShape&) { not_built("keydiff"); }

}  // namespace compactor
