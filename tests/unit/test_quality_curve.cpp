// compactor-test-libs: compactor_calibrate
// The quality curve f(k; b) = expm1(b·k) / expm1(b), its derivative in b and
// its inverse in k: values against the textbook formula, a bisection root and
// central differences, symmetry, limits at b → 0 and extreme b, and errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "calibrate/quality_curve.h"

namespace compactor::calibrate {
namespace {

const std::vector<double> kCurveBs = {-40.0, -10.0, -3.0, -1.0, -1e-3, -1e-7, 0.0,
                                      1e-7,  1e-3,  1.0,  3.0,  10.0, 40.0, 150.0};
const std::vector<double> kBudgets = {0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0};

std::vector<double> kept_fraction_grid(int steps) {
    std::vector<double> grid;
    for (int i = 0; i <= steps; ++i) grid.push_back(static_cast<double>(i) / steps);
    return grid;
}

// 1 − f(k; b) = e^(bk)·expm1(b(1 − k)) / expm1(b), straight from the
// definition. Near f = 1, f itself rounds to 1 (for b = −40 already from
// k ≈ 0.94), but this shortfall keeps its digits.
double curve_shortfall(double k, double b) {
    if (b == 0.0) return 1.0 - k;
    return std::exp(b * k) * std::expm1(b * (1.0 - k)) / std::expm1(b);
}

// The root of f(k; b) = τ on [0, 1] by bisection, independent of the closed
// form. For τ ≥ 1/2 it compares shortfalls, 1 − f(k) against 1 − τ, so τ = 1
// finds k = 1. Below 1/2 it compares f itself, which is accurate near 0.
double bisect_kept_fraction(double tau, double b) {
    const auto below_budget = [&](double k) {
        return tau >= 0.5 ? curve_shortfall(k, b) > 1.0 - tau : quality_curve(k, b) < tau;
    };
    double low = 0.0;
    double high = 1.0;
    for (int i = 0; i < 200 && high - low > 1e-15; ++i) {
        const double middle = 0.5 * (low + high);
        if (below_budget(middle)) {
            low = middle;
        } else {
            high = middle;
        }
    }
    return 0.5 * (low + high);
}

TEST(QualityCurve, EndpointsAreZeroAndOne) {
    for (const double b : kCurveBs) {
        SCOPED_TRACE("b = " + std::to_string(b));
        EXPECT_EQ(quality_curve(0.0, b), 0.0);
        EXPECT_EQ(quality_curve(1.0, b), 1.0);
    }
}

TEST(QualityCurve, MatchesTextbookFormula) {
    // (exp(b(k − 1)) − exp(−b)) / (1 − exp(−b)) is accurate for moderate b.
    for (const double b : {-10.0, -2.0, -0.5, 0.5, 2.0, 10.0, 30.0}) {
        for (const double k : kept_fraction_grid(20)) {
            const double expected = (std::exp(b * (k - 1.0)) - std::exp(-b)) / (1.0 - std::exp(-b));
            EXPECT_NEAR(quality_curve(k, b), expected, 1e-13) << "b = " << b << ", k = " << k;
        }
    }
}

TEST(QualityCurve, IncreasesWithKeptFraction) {
    const std::vector<double> grid = kept_fraction_grid(200);
    for (const double b : kCurveBs) {
        for (size_t i = 1; i < grid.size(); ++i) {
            EXPECT_LE(quality_curve(grid[i - 1], b), quality_curve(grid[i], b))
                << "b = " << b << ", k = " << grid[i];
        }
    }

    // Where neither end saturates, the rise is strict.
    for (const double b : {-3.0, 0.0, 3.0}) {
        for (size_t i = 1; i < grid.size(); ++i) {
            EXPECT_LT(quality_curve(grid[i - 1], b), quality_curve(grid[i], b))
                << "b = " << b << ", k = " << grid[i];
        }
    }
}

TEST(QualityCurve, SmallBApproachesDiagonal) {
    for (const double k : kept_fraction_grid(10)) {
        EXPECT_EQ(quality_curve(k, 0.0), k);
        // f(k; b) = k + b·k(k − 1)/2 + b²·k(2k − 1)(k − 1)/12 + O(b³), and the
        // b² coefficient is below 0.01 on [0, 1].
        for (const double b : {-1e-3, -1e-7, -1e-300, 1e-300, 1e-7, 1e-3}) {
            EXPECT_NEAR(quality_curve(k, b), k + b * k * (k - 1.0) / 2.0, 0.01 * b * b + 1e-15)
                << "b = " << b << ", k = " << k;
        }
    }
}

TEST(QualityCurve, NegatedBMirrorsCurve) {
    // f(k; −b) = 1 − f(1 − k; b): the curve for −b is the curve for b rotated
    // by 180° about (1/2, 1/2).
    for (const double b : kCurveBs) {
        for (const double k : kept_fraction_grid(40)) {
            EXPECT_NEAR(quality_curve(k, -b), 1.0 - quality_curve(1.0 - k, b), 1e-13)
                << "b = " << b << ", k = " << k;
        }
    }
}

TEST(QualityCurve, CurveBSaturatesAtExtremes) {
    // From |b| = 50 on, f(1/2) is within 1e-10 of the step at k = 0 (b < 0) or
    // k = 1 (b > 0), and nothing overflows.
    for (const double b : {-50.0, -700.0, -1e4, -1e300}) {
        EXPECT_NEAR(quality_curve(0.5, b), 1.0, 1e-10) << "b = " << b;
    }
    for (const double b : {200.0, 700.0, 1e4, 1e300}) {
        EXPECT_NEAR(quality_curve(0.5, b), 0.0, 1e-10) << "b = " << b;
    }
    for (const double b : {-1e300, -1e4, -700.0, -50.0, 200.0, 710.0, 1e4, 1e300}) {
        for (const double k : kept_fraction_grid(20)) {
            const double f = quality_curve(k, b);
            const double df = quality_curve_db(k, b);
            EXPECT_TRUE(std::isfinite(f)) << "b = " << b << ", k = " << k;
            EXPECT_GE(f, 0.0) << "b = " << b << ", k = " << k;
            EXPECT_LE(f, 1.0) << "b = " << b << ", k = " << k;
            EXPECT_TRUE(std::isfinite(df)) << "b = " << b << ", k = " << k;
        }
    }
}

TEST(QualityCurve, DerivativeMatchesCentralDifference) {
    std::vector<double> bs = kCurveBs;
    // Both sides of |b| = 1, where the derivative switches from a series to
    // the closed form.
    for (const double b : {-1.001, -0.999, 0.999, 1.001, 0.3, -0.3}) bs.push_back(b);

    for (const double b : bs) {
        const double h = 1e-4 * std::max(1.0, std::abs(b));
        for (const double k : kept_fraction_grid(20)) {
            const double central = (quality_curve(k, b + h) - quality_curve(k, b - h)) / (2.0 * h);
            EXPECT_NEAR(quality_curve_db(k, b), central, 1e-8) << "b = " << b << ", k = " << k;
        }
    }
}

TEST(QualityCurve, DerivativeAtZeroIsHalfKTimesKMinusOne) {
    for (const double k : kept_fraction_grid(10)) {
        EXPECT_NEAR(quality_curve_db(k, 0.0), k * (k - 1.0) / 2.0, 1e-16) << "k = " << k;
        EXPECT_NEAR(quality_curve_db(k, 1e-9), k * (k - 1.0) / 2.0, 1e-10) << "k = " << k;
        EXPECT_NEAR(quality_curve_db(k, -1e-9), k * (k - 1.0) / 2.0, 1e-10) << "k = " << k;
    }
}

TEST(QualityCurve, DerivativeIsContinuousAtSeriesSwitch) {
    for (const double k : kept_fraction_grid(20)) {
        EXPECT_NEAR(quality_curve_db(k, 1.0 - 1e-12), quality_curve_db(k, 1.0 + 1e-12), 1e-13) << "k = " << k;
        EXPECT_NEAR(quality_curve_db(k, -1.0 + 1e-12), quality_curve_db(k, -1.0 - 1e-12), 1e-13) << "k = " << k;
    }
}

TEST(QualityCurve, RejectsInvalidArguments) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (const double k : {-0.1, 1.1, nan, inf}) {
        EXPECT_THROW(quality_curve(k, 1.0), std::invalid_argument) << "k = " << k;
        EXPECT_THROW(quality_curve_db(k, 1.0), std::invalid_argument) << "k = " << k;
    }
    for (const double b : {nan, inf, -inf}) {
        EXPECT_THROW(quality_curve(0.5, b), std::invalid_argument) << "b = " << b;
        EXPECT_THROW(quality_curve_db(0.5, b), std::invalid_argument) << "b = " << b;
        EXPECT_THROW(kept_fraction_for_quality(0.9, b), std::invalid_argument) << "b = " << b;
    }
}

TEST(QualityCurveInverse, MatchesBisectionRoot) {
    for (const double b : kCurveBs) {
        for (const double tau : kBudgets) {
            EXPECT_NEAR(kept_fraction_for_quality(tau, b), bisect_kept_fraction(tau, b), 1e-9)
                << "b = " << b << ", tau = " << tau;
        }
    }
}

TEST(QualityCurveInverse, MatchesBisectionNearSaturation) {
    // Budgets within 1e-12 of 1 with b ≪ 0, or of 0 with b ≫ 0, put the log
    // argument of the closed form near 0, where log1p would lose its digits.
    for (const double b : {-40.0, -200.0}) {
        for (const double tau : {1.0 - 1e-12, 1.0 - 1e-15}) {
            EXPECT_NEAR(kept_fraction_for_quality(tau, b), bisect_kept_fraction(tau, b), 1e-9)
                << "b = " << b << ", tau = 1 - " << 1.0 - tau;
        }
    }
    for (const double b : {40.0, 200.0}) {
        for (const double tau : {1e-12, 1e-15}) {
            EXPECT_NEAR(kept_fraction_for_quality(tau, b), bisect_kept_fraction(tau, b), 1e-9)
                << "b = " << b << ", tau = " << tau;
        }
    }
}

TEST(QualityCurveInverse, RoundTripsAtExtremeB) {
    for (const double b : {-700.0, -50.0, 200.0, 700.0}) {
        for (const double tau : {1e-6, 0.01, 0.5, 0.9, 0.999999}) {
            const double k = kept_fraction_for_quality(tau, b);
            EXPECT_GE(k, 0.0) << "b = " << b << ", tau = " << tau;
            EXPECT_LE(k, 1.0) << "b = " << b << ", tau = " << tau;
            EXPECT_NEAR(quality_curve(k, b), tau, 1e-9 * std::max(1.0, std::abs(b)))
                << "b = " << b << ", tau = " << tau;
        }
    }
}

TEST(QualityCurveInverse, SmallBReturnsBudget) {
    for (const double tau : kBudgets) {
        EXPECT_EQ(kept_fraction_for_quality(tau, 0.0), tau);
        EXPECT_EQ(kept_fraction_for_quality(tau, 5e-10), tau);
        EXPECT_EQ(kept_fraction_for_quality(tau, -5e-10), tau);
    }
}

TEST(QualityCurveInverse, FullBudgetKeepsEverything) {
    for (const double b : {-700.0, -40.0, -1.0, 0.0, 1.0, 40.0, 700.0}) {
        EXPECT_EQ(kept_fraction_for_quality(1.0, b), 1.0) << "b = " << b;
    }
}

TEST(QualityCurveInverse, RejectsBudgetOutsideUnitInterval) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (const double tau : {0.0, -0.5, 1.0 + 1e-12, 2.0, nan}) {
        EXPECT_THROW(kept_fraction_for_quality(tau, 1.0), std::invalid_argument) << "tau = " << tau;
    }

    try {
        kept_fraction_for_quality(1.5, 1.0);
        FAIL() << "tau = 1.5 was accepted";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("tau 1.5"), std::string::npos) << error.what();
    }
}

TEST(QualityCurve, CurveBIsLinearInContextNll) {
    EXPECT_DOUBLE_EQ(curve_b(1.5, -2.0, 3.0), 2.5);
    EXPECT_DOUBLE_EQ(curve_b(-0.8, 4.0, 0.0), 4.0);
    EXPECT_DOUBLE_EQ(curve_b(0.0, 0.5, 100.0), 0.5);
}

}  // namespace
}  // namespace compactor::calibrate
