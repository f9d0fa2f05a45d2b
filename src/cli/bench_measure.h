// The timed steps of `compactor bench` at one context length: prefill with
// and without the scorer, scoring, compaction, and decoding from the full and
// from the compressed cache.
#pragma once

#include <cstdint>
#include <span>

#include "cli/bench_result.h"
#include "compress/compressor.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::cli {

struct MeasureSettings {
    CompressionOptions compression;
    int64_t decode_tokens = 128;
    int64_t prefill_chunk = 512;
    bool measure_no_scorer = true;  // also time a prefill without a scorer
};

class LengthBench {
public:
    // The tokenizer and chat template build the repetition prompt of scorers
    // that need a second pass (kvzip).
    LengthBench(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                const MeasureSettings& settings);

    // One untimed pass as a user runs it: prefill with the scorer, compress
    // in place, decode from the compressed cache. Returns the peak resident
    // memory of that pass (no cache copies are alive in it).
    PeakRss warm_up(std::span<const int32_t> tokens) const;

    // One measured run. Decoding works on copies made outside the timed
    // span. The first decode step still pays for growing the copied cache,
    // as DocumentSession::answer() does.
    BenchRun run(std::span<const int32_t> tokens) const;

private:
    const Model& model_;
    const Tokenizer& tokenizer_;
    const ChatTemplate& chat_template_;
    MeasureSettings settings_;
    ModelShape shape_;
};

}  // namespace compactor::cli
