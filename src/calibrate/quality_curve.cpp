#include "calibrate/quality_curve.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

namespace compactor::calibrate {

namespace {

// Below this |b|, kept_fraction_for_quality returns τ. The true k* differs from
// τ by about b·τ(1 − τ)/2, so at most 1.25e-10 here.
constexpr double kLinearB = 1e-9;

// Below this |b|, quality_curve uses f(k; b) = k + b·k(k − 1)/2, whose error
// is below b²/100, instead of a quotient of two numbers near 0.
constexpr double kTinyB = 1e-100;

// Up to this |b|, quality_curve_db sums a power series instead of the closed
// form, whose division by expm1(b) loses about eps/|b| to cancellation.
constexpr double kSeriesB = 1.0;

void check_arguments(std::string_view function, double kept_fraction, double b) {
    if (!std::isfinite(kept_fraction) || kept_fraction < 0.0 || kept_fraction > 1.0)
        throw std::invalid_argument(fmt::format(
            "{}: kept_fraction {} is outside [0, 1]; pass the fraction of KV cache entries kept", function,
            kept_fraction));
    if (!std::isfinite(b))
        throw std::invalid_argument(
            fmt::format("{}: curve parameter b {} is not finite; check alpha, beta and the context NLL", function, b));
}

// expm1(x) / x, continued by its limit 1 at x = 0.
double expm1_over_x(double x) {
    if (x == 0.0) return 1.0;
    return std::expm1(x) / x;
}

double evaluate_curve(double k, double b) {
    if (std::abs(b) < kTinyB) return k + 0.5 * b * k * (k - 1.0);

    // Each form is built from factors that are monotone in k, so rounding keeps
    // the curve non-decreasing in k as long as exp and expm1 are monotone.
    // For b > 0 the factor
    // exp(b(k − 1)) is pulled out so that nothing grows like exp(b).
    double f = 0.0;
    if (b < 0.0) {
        f = std::expm1(b * k) / std::expm1(b);
    } else {
        f = std::exp(-b * (1.0 - k)) * (std::expm1(-b * k) / std::expm1(-b));
    }

    // The exact value lies in [0, 1], but rounding may step past by an ulp.
    return std::clamp(f, 0.0, 1.0);
}

// h(b) / b², where h(b) = k·expm1(b) − expm1(bk) = Σ_{n≥2} k(1 − k^(n−1)) bⁿ/n!.
// Summed term by term for |b| ≤ 1, where the closed form cancels. 1 − k^m is
// built as (1 − k)(1 + k + … + k^(m−1)) so it stays accurate for k near 1.
double series_h_over_b2(double k, double b) {
    const double q = 1.0 - k;
    double sum = 0.0;
    double geometric = 1.0;  // 1 + k + … + k^(n−2)
    double k_power = k;      // k^(n−1)
    double b_power = 1.0;    // b^(n−2)
    double factorial = 2.0;  // n!

    // With |b| ≤ 1 a term is at most (n − 1)/n!, below 1e-24 from n = 25.
    for (int n = 2; n <= 26; ++n) {
        sum += geometric * b_power / factorial;
        geometric += k_power;
        k_power *= k;
        b_power *= b;
        factorial *= static_cast<double>(n + 1);
    }
    return k * q * sum;
}

}  // namespace

double quality_curve(double kept_fraction, double b) {
    check_arguments("quality_curve", kept_fraction, b);
    return evaluate_curve(kept_fraction, b);
}

double quality_curve_db(double kept_fraction, double b) {
    check_arguments("quality_curve_db", kept_fraction, b);
    const double k = kept_fraction;
    const double f = evaluate_curve(k, b);

    // With D = expm1(b): ∂f/∂b = (k e^(bk) D − expm1(bk) e^b) / D², which
    // rearranges to (k − f)/D − f(1 − k), and k − f = h(b)/D.
    if (std::abs(b) <= kSeriesB) {
        const double d_over_b = expm1_over_x(b);
        return series_h_over_b2(k, b) / (d_over_b * d_over_b) - f * (1.0 - k);
    }

    // For b > 709, expm1(b) is +inf and the first term correctly becomes 0.
    return (k - f) / std::expm1(b) - f * (1.0 - k);
}

double kept_fraction_for_quality(double tau, double b) {
    if (!std::isfinite(tau) || tau <= 0.0 || tau > 1.0)
        throw std::invalid_argument(fmt::format(
            "kept_fraction_for_quality: quality budget tau {} is outside (0, 1]; pass the share of full-cache "
            "answer quality to keep, e.g. 0.95",
            tau));
    if (!std::isfinite(b))
        throw std::invalid_argument(fmt::format(
            "kept_fraction_for_quality: curve parameter b {} is not finite; check alpha, beta and the context NLL",
            b));
    if (tau == 1.0) return 1.0;
    if (std::abs(b) < kLinearB) return tau;

    // k* = log1p(τ·expm1(b)) / b = 1 + ln(τ + (1 − τ)e^(−b)) / b. Each sign of b
    // uses the form whose exponential cannot overflow. The log argument is a
    // sum of two positive terms. When it is small, log1p would take it as 1
    // plus a number near −1 and lose its digits, so the sum goes to log.
    const double one_minus_tau = 1.0 - tau;
    double k = 0.0;
    if (b < 0.0) {
        const double argument = one_minus_tau + tau * std::exp(b);
        const double log_argument = argument < 0.5 ? std::log(argument) : std::log1p(tau * std::expm1(b));
        k = log_argument / b;
    } else {
        const double argument = tau + one_minus_tau * std::exp(-b);
        const double log_argument = argument < 0.5 ? std::log(argument) : std::log1p(one_minus_tau * std::expm1(-b));
        k = 1.0 + log_argument / b;
    }
    return std::clamp(k, 0.0, 1.0);
}

double curve_b(double alpha, double beta, double context_nll) { return alpha * context_nll + beta; }

}  // namespace compactor::calibrate
