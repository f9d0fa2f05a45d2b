// Teacher forcing: the NLL of given answer tokens after a prompt, on many
// KV caches at once. Calibration measures how much compression raises it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kv/kv_cache.h"
#include "model/model.h"

namespace compactor {

struct ForcedRequest {
    KvCache* cache = nullptr;       // extended in place by the prompt and all but the last answer token
    std::vector<int32_t> prompt;    // tokens before the answer (at least one)
    std::vector<int32_t> answer;    // tokens whose NLL is measured (at least one)
};

struct ForcedNll {
    double nll_sum = 0;    // nats, summed over the answer tokens
    int64_t n_tokens = 0;  // answer tokens

    double mean() const { return n_tokens > 0 ? nll_sum / static_cast<double>(n_tokens) : 0.0; }
};

// The NLL of each request's answer given its cache and prompt, in request
// order. The requests run together through Model::forward_batch, in groups
// whose logits stay below about 256 MiB. Every request is checked before any
// cache changes: a null, shared or wrongly shaped cache, an empty prompt or
// answer, an out-of-range token id or a cache, prompt and answer longer than
// the model's context throws std::invalid_argument naming its index.
std::vector<ForcedNll> teacher_force_batch(const Model& model, std::span<ForcedRequest> requests);

}  // namespace compactor
