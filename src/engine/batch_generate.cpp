#include "engine/batch_generate.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/stopwatch.h"
#include "model/sampler.h"

namespace compactor {

namespace {

// Rejects a request before any cache changes, naming its index. The
// context rule is DocumentSession::answer()'s.
void check_request(const ModelConfig& c, size_t i, const GenerationRequest& request) {
    if (request.cache == nullptr) {
        throw std::invalid_argument(fmt::format("generate_batch: request {} has a null KV cache", i));
    }
    if (request.prompt.empty()) {
        throw std::invalid_argument(fmt::format(
            "generate_batch: request {} has an empty prompt; give it at least one token", i));
    }
    if (request.max_tokens <= 0) {
        throw std::invalid_argument(fmt::format(
            "generate_batch: request {} has max_tokens {}, expected a positive count", i, request.max_tokens));
    }
    const KvCache& cache = *request.cache;
    if (cache.n_layer() != c.n_layer || cache.n_head_kv() != c.n_head_kv || cache.head_dim() != c.head_dim) {
        throw std::invalid_argument(fmt::format(
            "generate_batch: request {}: the KV cache has {} layers × {} KV heads × head_dim {}, but the model "
            "needs {} × {} × {}; create it with Model::make_cache()",
            i, cache.n_layer(), cache.n_head_kv(), cache.head_dim(), c.n_layer, c.n_head_kv, c.head_dim));
    }
    for (size_t t = 0; t < request.prompt.size(); ++t) {
        if (request.prompt[t] < 0 || request.prompt[t] >= c.n_vocab) {
            throw std::invalid_argument(fmt::format(
                "generate_batch: request {}: token id {} at index {} is out of range for a vocabulary of {} tokens",
                i, request.prompt[t], t, c.n_vocab));
        }
    }
    const auto n_prompt = static_cast<int64_t>(request.prompt.size());
    if (cache.next_pos() + n_prompt + request.max_tokens > c.n_ctx_train) {
        throw std::invalid_argument(fmt::format(
            "generate_batch: request {}: cache ({} tokens) + prompt ({} tokens) + max_tokens ({}) exceeds the "
            "model's context of {} tokens; lower max_tokens or shorten the prompt",
            i, cache.next_pos(), n_prompt, request.max_tokens, c.n_ctx_train));
    }
}

void check_requests(const ModelConfig& c, std::span<const GenerationRequest> requests, int64_t max_batch) {
    if (max_batch <= 0) {
        throw std::invalid_argument(fmt::format(
            "generate_batch: max_batch is {}, expected a positive number of requests", max_batch));
    }
    for (size_t i = 0; i < requests.size(); ++i) {
        check_request(c, i, requests[i]);
        for (size_t j = 0; j < i; ++j) {
            if (requests[j].cache == requests[i].cache) {
                throw std::invalid_argument(fmt::format(
                    "generate_batch: requests {} and {} share one KV cache; give each request its own copy", j, i));
            }
        }
    }
}

// Per-request decoding state of one batch.
struct Decoding {
    StreamDecoder decoder;
    int32_t next_token = 0;  // the token the next step runs
};

// Generate for requests[first .. first + n) together, filling out[first ..].
void generate_group(const Model& model, const Tokenizer& tokenizer, std::span<GenerationRequest> requests,
                    size_t first, size_t n, std::vector<Generation>& out) {
    const int32_t n_vocab = model.config().n_vocab;
    const int32_t eos_id = tokenizer.vocab().eos_id;
    const int32_t eot_id = tokenizer.vocab().eot_id;

    // Step inputs, sized once for the batch and reused by every step
    std::vector<size_t> active;  // request indices still generating, in request order
    std::vector<std::span<const int32_t>> step_tokens;
    std::vector<KvCache*> step_caches;
    std::vector<Decoding> decoding;
    active.reserve(n);
    step_tokens.reserve(n);
    step_caches.reserve(n);
    decoding.reserve(n);
    for (size_t i = first; i < first + n; ++i) {
        // Room for the prompt and the answer up front: a copied or compacted
        // cache has none, and growing it by doubling would double its memory.
        requests[i].cache->reserve(static_cast<int64_t>(requests[i].prompt.size()) + requests[i].max_tokens);

        active.push_back(i);
        step_tokens.emplace_back(requests[i].prompt);
        step_caches.push_back(requests[i].cache);
        decoding.push_back({StreamDecoder(tokenizer), 0});
    }

    // Prompt prefill, all prompts in one call
    std::vector<float> logits;
    Stopwatch prefill_time;
    model.forward_batch(step_tokens, step_caches, &logits);
    const double prefill_s = prefill_time.elapsed_s();
    int64_t n_prompt_tokens = 0;
    for (size_t i = first; i < first + n; ++i) {
        Generation& g = out[i];
        g.n_prompt_tokens = static_cast<int64_t>(requests[i].prompt.size());
        g.prefill_s = prefill_s;
        g.batch_size = static_cast<int64_t>(n);
        n_prompt_tokens += g.n_prompt_tokens;
    }

    // Greedy steps. The stop rules and text handling are answer()'s: the
    // stop token ends the answer and is not part of its text.
    Sampler sampler(SamplingOptions{});
    Stopwatch decode_time;
    int64_t n_steps = 0;
    int64_t n_generated = 0;
    while (!active.empty()) {
        size_t n_kept = 0;
        for (size_t a = 0; a < active.size(); ++a) {
            const size_t i = active[a];
            Generation& g = out[i];
            Decoding& d = decoding[i - first];
            const auto row = std::span<const float>(logits).subspan(a * static_cast<size_t>(n_vocab),
                                                                   static_cast<size_t>(n_vocab));
            const int32_t id = sampler.sample(row);
            g.tokens.push_back(id);
            ++n_generated;

            bool stopped = true;
            if (id == eot_id) {
                g.stop_reason = StopReason::eot;
            } else if (id == eos_id) {
                g.stop_reason = StopReason::eos;
            } else {
                g.text += d.decoder.push(id);
                if (static_cast<int64_t>(g.tokens.size()) >= requests[i].max_tokens) {
                    g.stop_reason = StopReason::max_tokens;
                } else {
                    stopped = false;
                }
            }
            if (stopped) {
                g.text += d.decoder.flush();
                g.decode_s = decode_time.elapsed_s();
                continue;
            }

            // Still generating: it runs its token in the next step
            d.next_token = id;
            active[n_kept++] = i;
        }
        active.resize(n_kept);
        if (active.empty()) break;

        step_tokens.clear();
        step_caches.clear();
        for (const size_t i : active) {
            step_tokens.emplace_back(&decoding[i - first].next_token, 1);
            step_caches.push_back(requests[i].cache);
        }
        model.forward_batch(step_tokens, step_caches, &logits);
        ++n_steps;
    }

    spdlog::debug("generate_batch: {} requests, {} prompt tokens prefilled in {:.3f} s, {} tokens generated in "
                  "{} steps, {:.3f} s",
                  n, n_prompt_tokens, prefill_s, n_generated, n_steps, decode_time.elapsed_s());
}

}  // namespace

std::vector<Generation> generate_batch(const Model& model, const Tokenizer& tokenizer,
                                       std::span<GenerationRequest> requests, int64_t max_batch) {
    check_requests(model.config(), requests, max_batch);

    std::vector<Generation> generations(requests.size());
    const auto batch = static_cast<size_t>(max_batch);
    for (size_t first = 0; first < requests.size(); first += batch) {
        generate_group(model, tokenizer, requests, first, std::min(batch, requests.size() - first), generations);
    }
    return generations;
}

}  // namespace compactor
