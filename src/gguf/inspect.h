// A human-readable summary of a GGUF file, as `compactor inspect` prints it.
#pragma once

#include <string>

#include "gguf/gguf_file.h"

namespace compactor::gguf {

// Build a multi-line report: GGUF version and file size, architecture and name,
// and the hyperparameters under "{arch}." (context length, embedding length,
// block count, feed-forward length, head counts, RoPE base, RMS norm epsilon).
// It goes on with vocab size, tokenizer model and pre-tokenizer, chat template
// presence, tensor count per type and total tensor bytes. Missing keys print
// as "(missing)".
std::string inspect_report(const GgufFile& file);

// One metadata value as text: numbers and strings as they are, arrays as
// "[array of N <type>]".
std::string format_value(const Value& value);

}  // namespace compactor::gguf
