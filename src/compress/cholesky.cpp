#include "compress/cholesky.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace compactor {

bool cholesky_lower(std::vector<double>& a, int k) {
    const size_t n = static_cast<size_t>(k);
    for (size_t j = 0; j < n; ++j) {
        double diag = a[j * n + j];
        for (size_t p = 0; p < j; ++p) diag -= a[j * n + p] * a[j * n + p];
        // The negated test also rejects NaN.
        if (!(diag > 0.0)) return false;
        const double ljj = std::sqrt(diag);
        a[j * n + j] = ljj;

        for (size_t i = j + 1; i < n; ++i) {
            double x = a[i * n + j];
            for (size_t p = 0; p < j; ++p) x -= a[i * n + p] * a[j * n + p];
            a[i * n + j] = x / ljj;
        }
        for (size_t i = 0; i < j; ++i) a[i * n + j] = 0.0;
    }
    return true;
}

std::vector<double> cholesky_with_jitter(const std::vector<double>& gram, int k, double jitter, int max_tries) {
    const size_t n = static_cast<size_t>(k);
    double trace = 0.0;
    for (size_t i = 0; i < n; ++i) trace += gram[i * n + i];
    const double relative_floor = 1e-6 * std::abs(trace) / static_cast<double>(std::max(k, 1));

    double eps = jitter;
    for (int attempt = 0; attempt < max_tries; ++attempt) {
        std::vector<double> a = gram;
        for (size_t i = 0; i < n; ++i) a[i * n + i] += eps;
        if (cholesky_lower(a, k)) {
            if (attempt > 0)
                spdlog::debug("compress: Cholesky succeeded with jitter {:.3g} on try {}", eps, attempt + 1);
            return a;
        }
        eps = 10.0 * std::max(eps, relative_floor);
    }
    throw std::runtime_error(fmt::format(
        "compress: Cholesky of the {}x{} sketched key Gram failed {} times (last jitter {:.3g}, trace {:.6g}); "
        "the keys are probably NaN or infinite",
        k, k, max_tries, eps / 10.0, trace));
}

void solve_lower(const std::vector<double>& lower, int k, double* r) {
    const size_t n = static_cast<size_t>(k);
    for (size_t i = 0; i < n; ++i) {
        double x = r[i];
        for (size_t p = 0; p < i; ++p) x -= lower[i * n + p] * r[p];
        r[i] = x / lower[i * n + i];
    }
}

}  // namespace compactor
