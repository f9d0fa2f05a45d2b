// Greedy generation for many prompts at once, each on its own KV cache: the
// evaluation answers every method and ratio of a sample in one batch.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "compactor/engine.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace compactor {

struct GenerationRequest {
    KvCache* cache = nullptr;      // extended in place by the prompt and the answer
    std::vector<int32_t> prompt;   // tokens to prefill before generating (at least one)
    int64_t max_tokens = 64;       // generated tokens at most
};

struct Generation {
    std::string text;              // decoded answer, stop token excluded
    std::vector<int32_t> tokens;   // generated token ids, stop token included
    int64_t n_prompt_tokens = 0;
    StopReason stop_reason = StopReason::max_tokens;
    double prefill_s = 0;          // wall time of the batch's prompt prefill (shared by the batch)
    double decode_s = 0;           // wall time from the first sampled token to this request's stop
    int64_t batch_size = 0;        // requests that ran together
};

// Greedy decoding of `requests` together: their prompts are prefilled in one
// forward_batch() call (split into batches of at most max_batch requests),
// then one token per unfinished request per step; a request that stops
// (end of turn, end of sequence or max_tokens) leaves the batch. Results are
// in request order and equal generating each request alone (greedy ties
// aside). Every request is checked before any cache changes: a request
// without a cache or prompt, with max_tokens <= 0, with a cache of another
// shape or shared with another request, with an out-of-range token id, or
// whose cache, prompt and max_tokens exceed n_ctx_train (the rule of
// DocumentSession::answer) throws std::invalid_argument naming its index, as
// does max_batch <= 0.
std::vector<Generation> generate_batch(const Model& model, const Tokenizer& tokenizer,
                                       std::span<GenerationRequest> requests, int64_t max_batch);

}  // namespace compactor
