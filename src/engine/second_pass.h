// The second sequence some scorers need after the context (KVzip: the model
// repeats the document and the attention of that repetition scores it).
#pragma once

#include <cstdint>
#include <span>

#include "compress/compressor.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {

// When scorer.needs_second_pass(), run the repetition prompt (end of the user
// turn asking for the document verbatim, the assistant's turn start, then
// context_tokens) through a copy of `full_cache` with the scorer's
// second-pass observer. `full_cache` itself is unchanged. context_tokens are
// the document's own tokens, without the template around them. When the
// cache and the repetition together exceed the model's training context,
// the document is repeated in pieces that fit, each on a fresh copy and
// cued with the last tokens of the piece before (at least 1/16 of the
// training context per piece). Returns the seconds spent (0 when the scorer
// needs no second pass). Throws std::invalid_argument for empty
// context_tokens or a compressed `full_cache`.
double run_second_pass(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                       const KvCache& full_cache, Scorer& scorer, std::span<const int32_t> context_tokens);

}  // namespace compactor
