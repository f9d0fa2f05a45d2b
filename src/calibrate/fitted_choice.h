// Run-time use of a fitted calibration: the kept fraction for quality
// budget τ and a document's context NLL.
#pragma once

#include "calibrate/calibration_file.h"

namespace compactor::calibrate {

// Kept fractions below this are raised to it, so the ratio stays a valid
// compression ratio (< 1) and a cache keeps a row per head.
inline constexpr double kMinKeptFraction = 0.01;

struct FittedChoice {
    double tau = 1.0;
    double context_nll = 0;     // nats per document token
    double b = 0;               // α · context_nll + β
    double kept_fraction = 1.0; // k* of the closed form, at least kMinKeptFraction
    double ratio = 0.0;         // 1 − kept_fraction
};

// Throws std::invalid_argument for τ outside (0, 1] or a non-finite context NLL.
FittedChoice choose_fitted(const Calibration& calibration, double context_nll, double tau);

}  // namespace compactor::calibrate
