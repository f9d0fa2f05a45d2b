#include "model/softmax.h"

#include <algorithm>
#include <limits>

namespace compactor {

namespace {

// Independent partial results, so that GCC vectorizes reductions it may not
// reorder under strict IEEE semantics.
constexpr int kLanes = 16;

}  // namespace

float max_of(const float* x, int64_t n) {
    float lanes[kLanes];
    std::fill(lanes, lanes + kLanes, -std::numeric_limits<float>::infinity());
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
        for (int l = 0; l < kLanes; ++l) lanes[l] = std::max(lanes[l], x[j + l]);
    }
    float result = *std::max_element(lanes, lanes + kLanes);
    for (; j < n; ++j) result = std::max(result, x[j]);
    return result;
}

double exp_shifted_in_place(float* x, int64_t n, float shift) {
    float lanes[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
            const float y = exp_nonpositive(x[j + l] - shift);
            x[j + l] = y;
            lanes[l] += y;
        }
    }
    double total = 0.0;
    for (; j < n; ++j) {
        x[j] = exp_nonpositive(x[j] - shift);
        total += x[j];
    }
    for (float lane : lanes) total += lane;
    return total;
}

void softmax_in_place(float* row, int64_t n) {
    const double sum = exp_shifted_in_place(row, n, max_of(row, n));
    const auto inv_sum = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) row[j] *= inv_sum;
}

}  // namespace compactor
