// Median, minimum and maximum of repeated measurements.
#pragma once

#include <algorithm>
#include <vector>

namespace compactor::cli {

struct Spread {
    double median = 0;
    double min = 0;
    double max = 0;
};

// The median of an even count is the mean of the two middle values. An empty
// sample gives zeros.
inline Spread spread_of(std::vector<double> samples) {
    if (samples.empty()) return {};
    std::sort(samples.begin(), samples.end());
    const size_t n = samples.size();
    const double median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
    return {median, samples.front(), samples.back()};
}

}  // namespace compactor::cli
