#include "calibrate/fitted_choice.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "calibrate/quality_curve.h"

namespace compactor::calibrate {

FittedChoice choose_fitted(const Calibration& calibration, double context_nll, double tau) {
    if (!std::isfinite(context_nll)) {
        throw std::invalid_argument(fmt::format(
            "the document's context NLL is {}; a fitted calibration needs it (keep the NLL stride above 0)",
            context_nll));
    }
    FittedChoice choice;
    choice.tau = tau;
    choice.context_nll = context_nll;
    choice.b = curve_b(calibration.fit.alpha, calibration.fit.beta, context_nll);
    choice.kept_fraction = std::max(kMinKeptFraction, kept_fraction_for_quality(tau, choice.b));
    choice.ratio = 1.0 - choice.kept_fraction;
    return choice;
}

}  // namespace compactor::calibrate
