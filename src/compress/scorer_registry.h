// One factory per compression method; make_scorer() dispatches on the name.
#pragma once

#include <memory>

#include "compress/compressor.h"

namespace compactor {

std::unique_ptr<Scorer> make_compactor_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_leverage_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_chunked_attention_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_exact_leverage_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_streaming_llm_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_knorm_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_random_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_snapkv_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_pyramidkv_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_expected_attention_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_tova_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_keydiff_scorer(const CompressionOptions& options, const ModelShape& shape);
std::unique_ptr<Scorer> make_kvzip_scorer(const CompressionOptions& options, const ModelShape& shape);

}  // namespace compactor
