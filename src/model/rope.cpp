#include "model/rope.h"

#include <cmath>

namespace compactor {

RopeTable make_rope_table(int64_t pos0, int64_t n_tokens, int n_rot, float freq_base,
                          std::span<const float> freq_divisors) {
    RopeTable table;
    table.n_pairs = n_rot / 2;
    const auto n_pairs = static_cast<size_t>(table.n_pairs);
    table.cos.resize(static_cast<size_t>(n_tokens) * n_pairs);
    table.sin.resize(table.cos.size());

    // Angles in double: pos · freq reaches thousands of radians, where a
    // float product would already be off by 1e-4.
    std::vector<double> freq(n_pairs);
    for (size_t i = 0; i < n_pairs; ++i) {
        freq[i] = std::pow(static_cast<double>(freq_base), -2.0 * static_cast<double>(i) / n_rot);
        if (!freq_divisors.empty()) freq[i] /= freq_divisors[i];
    }
    for (int64_t t = 0; t < n_tokens; ++t) {
        const auto pos = static_cast<double>(pos0 + t);
        for (size_t i = 0; i < n_pairs; ++i) {
            const double theta = pos * freq[i];
            table.cos[static_cast<size_t>(t) * n_pairs + i] = static_cast<float>(std::cos(theta));
            table.sin[static_cast<size_t>(t) * n_pairs + i] = static_cast<float>(std::sin(theta));
        }
    }
    return table;
}

void apply_rope(float* x, int64_t n_tokens, int n_heads, int head_dim, RopeMode mode,
                const RopeTable& table) {
    const int n_pairs = table.n_pairs;
    // Offset between the two elements of a pair, and the step between pairs.
    const int partner = mode == RopeMode::normal ? 1 : n_pairs;
    const int step = mode == RopeMode::normal ? 2 : 1;

    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* cos_t = table.cos.data() + t * n_pairs;
        const float* sin_t = table.sin.data() + t * n_pairs;
        for (int h = 0; h < n_heads; ++h) {
            float* head = x + (t * n_heads + h) * head_dim;
            for (int i = 0; i < n_pairs; ++i) {
                float* a = head + i * step;
                float* b = a + partner;
                const float x0 = *a;
                const float x1 = *b;
                *a = x0 * cos_t[i] - x1 * sin_t[i];
                *b = x0 * sin_t[i] + x1 * cos_t[i];
            }
        }
    }
}

}  // namespace compactor
