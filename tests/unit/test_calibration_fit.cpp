// compactor-test-libs: compactor_calibrate
// fit_calibration on synthetic triples drawn from known α, β: recovery with and
// without noise, the effect of over_weight, the residual summary, the α = 0
// fallback for a single context NLL, and input errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "calibrate/calibration_fit.h"
#include "calibrate/quality_curve.h"

namespace compactor::calibrate {
namespace {

struct Coefficients {
    double alpha;
    double beta;
};

const std::vector<Coefficients> kTrueCoefficients = {{1.5, -2.0}, {-0.8, 4.0}, {0.0, 0.5}};

// Uniform on [0, 1) and standard normal draws, written out so the stream is
// the same with every standard library (std::normal_distribution is not).
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double standard_normal(std::mt19937_64& rng) {
    const double u1 = 1.0 - uniform(rng);  // in (0, 1], so the log is finite
    const double u2 = uniform(rng);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// Triples from `n_documents` documents with context NLL uniform on [1, 4],
// each measured at k = 0.1, 0.2, …, 0.9. The quality ratio is the true curve
// plus Gaussian noise of standard deviation `noise`, floored at 0.
std::vector<CalibrationTriple> synthetic_triples(Coefficients truth, double noise, int n_documents, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<CalibrationTriple> triples;
    for (int document = 0; document < n_documents; ++document) {
        const double context_nll = 1.0 + 3.0 * uniform(rng);
        const double b = curve_b(truth.alpha, truth.beta, context_nll);
        for (int step = 1; step <= 9; ++step) {
            const double kept_fraction = 0.1 * step;
            const double ratio = quality_curve(kept_fraction, b) + noise * standard_normal(rng);
            triples.push_back({kept_fraction, context_nll, std::max(ratio, 0.0)});
        }
    }
    return triples;
}

std::string describe(Coefficients truth) {
    return "alpha = " + std::to_string(truth.alpha) + ", beta = " + std::to_string(truth.beta);
}

TEST(CalibrationFit, RecoversCoefficientsWithoutNoise) {
    for (const Coefficients truth : kTrueCoefficients) {
        SCOPED_TRACE(describe(truth));
        const std::vector<CalibrationTriple> triples = synthetic_triples(truth, 0.0, 12, 7);
        const CalibrationFit fit = fit_calibration(triples, FitOptions{});

        EXPECT_NEAR(fit.alpha, truth.alpha, 1e-3);
        EXPECT_NEAR(fit.beta, truth.beta, 1e-3);
        EXPECT_FALSE(fit.alpha_fixed);
        EXPECT_TRUE(fit.converged);
        EXPECT_LT(fit.rmse, 1e-6);
        EXPECT_LT(fit.loss, 1e-10);
        EXPECT_EQ(fit.n_triples, 12 * 9);
    }
}

TEST(CalibrationFit, RecoversCoefficientsWithNoise) {
    FitOptions options;
    options.over_weight = 1.0;
    for (const Coefficients truth : kTrueCoefficients) {
        SCOPED_TRACE(describe(truth));
        const std::vector<CalibrationTriple> triples = synthetic_triples(truth, 0.01, 40, 11);
        const CalibrationFit fit = fit_calibration(triples, options);

        EXPECT_NEAR(fit.alpha, truth.alpha, 0.05);
        EXPECT_NEAR(fit.beta, truth.beta, 0.1);
        EXPECT_TRUE(fit.converged);
        // Least squares leaves residuals about as large as the noise.
        EXPECT_NEAR(fit.rmse, 0.01, 0.002);
    }
}

TEST(CalibrationFit, OverWeightLowersCurve) {
    FitOptions symmetric;
    symmetric.over_weight = 1.0;
    FitOptions asymmetric;
    asymmetric.over_weight = 4.0;
    for (const Coefficients truth : kTrueCoefficients) {
        SCOPED_TRACE(describe(truth));
        const std::vector<CalibrationTriple> triples = synthetic_triples(truth, 0.02, 40, 23);
        const CalibrationFit plain = fit_calibration(triples, symmetric);
        const CalibrationFit weighted = fit_calibration(triples, asymmetric);

        // Plain least squares puts the curve above about half the points.
        EXPECT_GT(plain.over_fraction, 0.35);
        EXPECT_LT(weighted.over_fraction, plain.over_fraction - 0.1);
        EXPECT_LT(weighted.mean_residual, plain.mean_residual);
        EXPECT_LT(weighted.mean_residual, 0.0);
    }
}

TEST(CalibrationFit, ReportsResidualSummary) {
    const std::vector<CalibrationTriple> triples = synthetic_triples({1.5, -2.0}, 0.02, 10, 5);
    FitOptions options;
    options.over_weight = 3.0;
    const CalibrationFit fit = fit_calibration(triples, options);

    double loss = 0.0;
    double squared_sum = 0.0;
    double residual_sum = 0.0;
    int n_over = 0;
    for (const CalibrationTriple& triple : triples) {
        const double b = curve_b(fit.alpha, fit.beta, triple.context_nll);
        const double residual = quality_curve(triple.kept_fraction, b) - triple.quality_ratio;
        loss += (residual > 0.0 ? 3.0 : 1.0) * residual * residual;
        squared_sum += residual * residual;
        residual_sum += residual;
        if (residual > 0.0) ++n_over;
    }
    const double n = static_cast<double>(triples.size());

    EXPECT_EQ(fit.n_triples, static_cast<int64_t>(triples.size()));
    EXPECT_NEAR(fit.loss, loss, 1e-12);
    EXPECT_NEAR(fit.rmse, std::sqrt(squared_sum / n), 1e-12);
    EXPECT_NEAR(fit.mean_residual, residual_sum / n, 1e-12);
    EXPECT_DOUBLE_EQ(fit.over_fraction, n_over / n);
    EXPECT_GT(fit.iterations, 0);
    EXPECT_LE(fit.iterations, FitOptions{}.max_iterations);
}

TEST(CalibrationFit, FitIsAStationaryPoint) {
    // Moving either coefficient a little in either direction must not lower
    // the loss of the returned fit.
    const std::vector<CalibrationTriple> triples = synthetic_triples({-0.8, 4.0}, 0.02, 20, 3);
    const FitOptions options;
    const CalibrationFit fit = fit_calibration(triples, options);

    auto loss_at = [&](double alpha, double beta) {
        double loss = 0.0;
        for (const CalibrationTriple& triple : triples) {
            const double residual =
                quality_curve(triple.kept_fraction, curve_b(alpha, beta, triple.context_nll)) - triple.quality_ratio;
            loss += (residual > 0.0 ? options.over_weight : 1.0) * residual * residual;
        }
        return loss;
    };
    for (const double delta : {-1e-3, 1e-3}) {
        EXPECT_GE(loss_at(fit.alpha + delta, fit.beta), fit.loss) << "alpha moved by " << delta;
        EXPECT_GE(loss_at(fit.alpha, fit.beta + delta), fit.loss) << "beta moved by " << delta;
    }
}

TEST(CalibrationFit, IdenticalContextFixesAlpha) {
    const double b = 2.5;
    std::vector<CalibrationTriple> triples;
    for (int step = 1; step <= 9; ++step) {
        const double kept_fraction = 0.1 * step;
        triples.push_back({kept_fraction, 2.0, quality_curve(kept_fraction, b)});
    }
    const CalibrationFit fit = fit_calibration(triples, FitOptions{});

    EXPECT_TRUE(fit.alpha_fixed);
    EXPECT_EQ(fit.alpha, 0.0);
    EXPECT_NEAR(fit.beta, b, 1e-6);
    EXPECT_TRUE(fit.converged);
}

TEST(CalibrationFit, AcceptsFullCacheAndRatiosAboveOne) {
    std::vector<CalibrationTriple> triples = synthetic_triples({1.5, -2.0}, 0.0, 6, 13);
    triples.push_back({1.0, 2.0, 1.0});
    triples.push_back({1.0, 3.0, 1.03});
    triples.push_back({0.9, 1.5, 1.01});
    const CalibrationFit fit = fit_calibration(triples, FitOptions{});

    EXPECT_FALSE(fit.alpha_fixed);
    EXPECT_NEAR(fit.alpha, 1.5, 0.3);
    EXPECT_NEAR(fit.beta, -2.0, 0.6);
    EXPECT_TRUE(std::isfinite(fit.loss));
    EXPECT_EQ(fit.n_triples, 6 * 9 + 3);
}

TEST(CalibrationFit, StopsAtMaxIterations) {
    const std::vector<CalibrationTriple> triples = synthetic_triples({1.5, -2.0}, 0.01, 10, 17);
    FitOptions options;
    options.max_iterations = 1;
    const CalibrationFit fit = fit_calibration(triples, options);

    EXPECT_LE(fit.iterations, 1);
    EXPECT_TRUE(std::isfinite(fit.alpha));
    EXPECT_TRUE(std::isfinite(fit.beta));
}

TEST(CalibrationFit, RejectsInvalidInput) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<CalibrationTriple> valid = {{0.2, 1.0, 0.5}, {0.5, 2.0, 0.7}, {0.8, 3.0, 0.9}};

    struct Case {
        std::string name;
        size_t index;
        CalibrationTriple triple;
        std::string expected_text;
    };
    const std::vector<Case> cases = {
        {"zero kept fraction", 1, {0.0, 2.0, 0.7}, "triples[1].kept_fraction 0"},
        {"kept fraction above 1", 2, {1.5, 3.0, 0.9}, "triples[2].kept_fraction 1.5"},
        {"NaN kept fraction", 0, {nan, 1.0, 0.5}, "triples[0].kept_fraction"},
        {"infinite context NLL", 1, {0.5, inf, 0.7}, "triples[1].context_nll"},
        {"NaN context NLL", 1, {0.5, nan, 0.7}, "triples[1].context_nll"},
        {"NaN quality ratio", 2, {0.8, 3.0, nan}, "triples[2].quality_ratio"},
        {"infinite quality ratio", 2, {0.8, 3.0, inf}, "triples[2].quality_ratio"},
        {"negative quality ratio", 0, {0.2, 1.0, -0.1}, "triples[0].quality_ratio -0.1"},
    };
    for (const Case& bad : cases) {
        std::vector<CalibrationTriple> triples = valid;
        triples[bad.index] = bad.triple;
        try {
            fit_calibration(triples, FitOptions{});
            ADD_FAILURE() << bad.name << " was accepted";
        } catch (const std::invalid_argument& error) {
            EXPECT_NE(std::string(error.what()).find(bad.expected_text), std::string::npos)
                << bad.name << ": " << error.what();
        }
    }

    const std::vector<CalibrationTriple> two(valid.begin(), valid.begin() + 2);
    EXPECT_THROW(fit_calibration(two, FitOptions{}), std::invalid_argument);
    EXPECT_THROW(fit_calibration(std::vector<CalibrationTriple>{}, FitOptions{}), std::invalid_argument);

    for (const double over_weight : {0.5, 0.0, -1.0, nan, inf}) {
        FitOptions options;
        options.over_weight = over_weight;
        EXPECT_THROW(fit_calibration(valid, options), std::invalid_argument) << "over_weight = " << over_weight;
    }
    FitOptions no_iterations;
    no_iterations.max_iterations = 0;
    EXPECT_THROW(fit_calibration(valid, no_iterations), std::invalid_argument);
}

}  // namespace
}  // namespace compactor::calibrate
