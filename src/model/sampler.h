// Next-token sampling from logits: greedy, or temperature with top-k and top-p.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace compactor {

struct SamplingOptions {
    float temperature = 0;  // 0: greedy (argmax); > 0: softmax(logits / temperature)
    int top_k = 0;          // keep the k most likely tokens; 0: off
    float top_p = 1.0f;     // keep the smallest set whose probability reaches top_p, in (0, 1]
    uint64_t seed = 0;      // seeds the generator, so a seed fixes the sequence
};

class Sampler {
public:
    // Throws std::invalid_argument naming an option outside its range.
    explicit Sampler(SamplingOptions options);

    // The next token id. Greedy returns the lowest id among equal maxima.
    // Throws std::invalid_argument for empty logits.
    int32_t sample(std::span<const float> logits);

private:
    int32_t sample_random(std::span<const float> logits);

    SamplingOptions options_;
    std::mt19937_64 rng_;
    std::vector<int32_t> order_;  // candidate ids, reused across calls
    std::vector<double> probs_;   // [candidates] probabilities of order_'s ids
};

}  // namespace compactor
