#include "engine/teacher_force.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "model/token_nll.h"

namespace compactor {

namespace {

// Logit bytes per forward_batch call at most: each logit row is n_vocab floats.
constexpr size_t kMaxLogitBytes = size_t{256} << 20;

void check_request(const ModelConfig& c, size_t i, const ForcedRequest& request) {
    if (request.cache == nullptr) {
        throw std::invalid_argument(fmt::format("teacher_force_batch: request {} has a null KV cache", i));
    }
    const KvCache& cache = *request.cache;
    if (cache.n_layer() != c.n_layer || cache.n_head_kv() != c.n_head_kv || cache.head_dim() != c.head_dim) {
        throw std::invalid_argument(fmt::format(
            "teacher_force_batch: request {}: the KV cache has {} layers × {} KV heads × head_dim {}, but the model "
            "needs {} × {} × {}; create it with Model::make_cache()",
            i, cache.n_layer(), cache.n_head_kv(), cache.head_dim(), c.n_layer, c.n_head_kv, c.head_dim));
    }
    if (request.prompt.empty() || request.answer.empty()) {
        throw std::invalid_argument(fmt::format(
            "teacher_force_batch: request {} has {} prompt and {} answer tokens; each needs at least one", i,
            request.prompt.size(), request.answer.size()));
    }
    for (const std::vector<int32_t>* part : {&request.prompt, &request.answer}) {
        for (const int32_t id : *part) {
            if (id < 0 || id >= c.n_vocab) {
                throw std::invalid_argument(fmt::format(
                    "teacher_force_batch: request {}: token id {} is out of range for a vocabulary of {} tokens", i,
                    id, c.n_vocab));
            }
        }
    }
    const auto n_new = static_cast<int64_t>(request.prompt.size() + request.answer.size());
    if (request.cache->next_pos() + n_new > c.n_ctx_train) {
        throw std::invalid_argument(fmt::format(
            "teacher_force_batch: request {}: cache ({} tokens) + prompt and answer ({} tokens) exceed the model's "
            "context of {} tokens; shorten the prompt or answer",
            i, request.cache->next_pos(), n_new, c.n_ctx_train));
    }
}

// Run requests[first .. last) in one forward_batch call and add their NLLs.
void force_group(const Model& model, std::span<ForcedRequest> requests, size_t first, size_t last,
                 std::vector<ForcedNll>& out) {
    const int64_t n_vocab = model.config().n_vocab;

    // Sequence = prompt, then the answer without its last token; the last
    // answer.size() rows predict the answer's tokens.
    std::vector<std::vector<int32_t>> inputs;
    std::vector<std::span<const int32_t>> tokens;
    std::vector<KvCache*> caches;
    std::vector<int64_t> n_logit_rows;
    for (size_t i = first; i < last; ++i) {
        const ForcedRequest& request = requests[i];
        std::vector<int32_t> input = request.prompt;
        input.insert(input.end(), request.answer.begin(), request.answer.end() - 1);
        inputs.push_back(std::move(input));
        caches.push_back(request.cache);
        n_logit_rows.push_back(static_cast<int64_t>(request.answer.size()));
    }
    for (const std::vector<int32_t>& input : inputs) tokens.emplace_back(input);

    std::vector<float> logits;
    model.forward_batch(tokens, caches, &logits, n_logit_rows);

    size_t row = 0;
    for (size_t i = first; i < last; ++i) {
        ForcedNll& nll = out[i];
        for (const int32_t target : requests[i].answer) {
            nll.nll_sum += token_nll_in_place(logits.data() + row * static_cast<size_t>(n_vocab), n_vocab, target);
            ++nll.n_tokens;
            ++row;
        }
    }
}

}  // namespace

std::vector<ForcedNll> teacher_force_batch(const Model& model, std::span<ForcedRequest> requests) {
    const ModelConfig& c = model.config();
    for (size_t i = 0; i < requests.size(); ++i) {
        check_request(c, i, requests[i]);
        for (size_t j = 0; j < i; ++j) {
            if (requests[j].cache == requests[i].cache) {
                throw std::invalid_argument(fmt::format(
                    "teacher_force_batch: requests {} and {} share one KV cache; give each request its own copy", j,
                    i));
            }
        }
    }

    // Groups of consecutive requests whose logit rows fit kMaxLogitBytes;
    // a single longer answer forms a group of its own.
    const size_t max_rows = std::max<size_t>(1, kMaxLogitBytes / (static_cast<size_t>(c.n_vocab) * sizeof(float)));
    std::vector<ForcedNll> out(requests.size());
    size_t first = 0;
    size_t rows = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
        if (i > first && rows + requests[i].answer.size() > max_rows) {
            force_group(model, requests, first, i, out);
            first = i;
            rows = 0;
        }
        rows += requests[i].answer.size();
    }
    if (first < requests.size()) force_group(model, requests, first, requests.size(), out);
    return out;
}

}  // namespace compactor
