#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

namespace compactor {

namespace {

int32_t argmax(std::span<const float> logits) {
    size_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > logits[best]) best = i;
    }
    return static_cast<int32_t>(best);
}

}  // namespace

Sampler::Sampler(SamplingOptions options) : options_(options), rng_(options.seed) {
    if (!(options.temperature >= 0.0f) || !std::isfinite(options.temperature)) {
        throw std::invalid_argument(fmt::format(
            "sampler: temperature is {}, expected a finite value >= 0 (0 means greedy)", options.temperature));
    }
    if (options.top_k < 0) {
        throw std::invalid_argument(
            fmt::format("sampler: top_k is {}, expected >= 0 (0 turns it off)", options.top_k));
    }
    if (!(options.top_p > 0.0f && options.top_p <= 1.0f)) {
        throw std::invalid_argument(
            fmt::format("sampler: top_p is {}, expected a value in (0, 1] (1 turns it off)", options.top_p));
    }
}

int32_t Sampler::sample(std::span<const float> logits) {
    if (logits.empty()) throw std::invalid_argument("sampler: logits are empty, expected [n_vocab] values");
    if (options_.temperature == 0.0f) return argmax(logits);
    return sample_random(logits);
}

int32_t Sampler::sample_random(std::span<const float> logits) {
    const auto n_vocab = static_cast<int64_t>(logits.size());

    // Candidates by descending logit, ties by ascending id; top-k cuts the list
    const int64_t n_keep = options_.top_k > 0 ? std::min<int64_t>(options_.top_k, n_vocab) : n_vocab;
    order_.resize(static_cast<size_t>(n_vocab));
    std::iota(order_.begin(), order_.end(), 0);
    const auto by_logit = [&](int32_t a, int32_t b) {
        const float la = logits[static_cast<size_t>(a)];
        const float lb = logits[static_cast<size_t>(b)];
        return la > lb || (la == lb && a < b);
    };
    std::partial_sort(order_.begin(), order_.begin() + n_keep, order_.end(), by_logit);
    order_.resize(static_cast<size_t>(n_keep));

    // Softmax of logits / temperature over the candidates, max subtracted
    const double max_logit = logits[static_cast<size_t>(order_[0])];
    probs_.resize(order_.size());
    double sum = 0.0;
    for (size_t i = 0; i < order_.size(); ++i) {
        probs_[i] = std::exp((logits[static_cast<size_t>(order_[i])] - max_logit) / options_.temperature);
        sum += probs_[i];
    }

    // Top-p: the shortest prefix whose mass reaches top_p (at least one token)
    size_t n_nucleus = order_.size();
    double mass = 0.0;
    for (size_t i = 0; i < order_.size(); ++i) {
        mass += probs_[i] / sum;
        if (mass >= options_.top_p) {
            n_nucleus = i + 1;
            break;
        }
    }

    // Draw from the renormalized nucleus
    std::discrete_distribution<size_t> pick(probs_.begin(), probs_.begin() + static_cast<std::ptrdiff_t>(n_nucleus));
    return order_[pick(rng_)];
}

}  // namespace compactor
