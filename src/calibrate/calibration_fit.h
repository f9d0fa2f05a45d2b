// Fits the quality-curve coefficients α, β of one model and compression method
// to measured (kept fraction, context NLL, quality ratio) triples.
//
// The curve parameter of a document is b = α·c + β (quality_curve.h). The fit
// minimizes Σ wᵢ (f(kᵢ; α·cᵢ + β) − gᵢ)², where wᵢ = over_weight when the curve
// is above the measurement (f > g) and 1 otherwise. A curve that claims more
// quality than was measured makes the run-time choice keep too little cache, so
// that side costs more.
#pragma once

#include <cstdint>
#include <span>

namespace compactor::calibrate {

// One measurement: a document compressed to one kept fraction.
struct CalibrationTriple {
    double kept_fraction;  // share of KV cache entries kept, in (0, 1]
    double context_nll;    // model's mean per-token negative log-likelihood of the document, nats per token
    // NLL(answer | full cache) / NLL(answer | compressed cache), dimensionless
    // and ≥ 0. Noise can put it slightly above 1.
    double quality_ratio;
};

struct FitOptions {
    // Weight of a squared residual where the curve is above the measurement;
    // must be ≥ 1 (1 gives ordinary least squares).
    double over_weight = 4.0;
    // Maximum Levenberg–Marquardt iterations per starting point; must be ≥ 1.
    int max_iterations = 200;
};

struct CalibrationFit {
    double alpha;  // slope of b in the context NLL, per nat per token
    double beta;   // b at context NLL 0, dimensionless
    // True when every triple has the same context NLL, so α cannot be
    // identified from the data. The fit then sets α = 0 and fits β alone.
    bool alpha_fixed;
    double loss;              // minimized objective Σ wᵢ (fᵢ − gᵢ)², a sum over triples, dimensionless
    double rmse;              // √(mean (fᵢ − gᵢ)²), unweighted, in quality-ratio units
    double mean_residual;     // mean (fᵢ − gᵢ); positive means the curve claims more quality than measured
    double over_fraction;     // share of triples with fᵢ > gᵢ, in [0, 1]
    int64_t n_triples;        // number of triples fitted
    int iterations;           // Levenberg–Marquardt iterations of the starting point that won
    // Whether the winning run stopped before max_iterations because its step or
    // loss change became tiny or no damped step lowered the loss, which marks a
    // stationary point. The best of several starts is kept, but a global
    // minimum is not guaranteed.
    bool converged;
};

// Fits α and β by damped Gauss–Newton (Levenberg–Marquardt) from several
// starting points and returns the one with the lowest loss. Throws
// std::invalid_argument, naming the value and the fix, for fewer than 3
// triples, a kept fraction outside (0, 1], a non-finite context NLL or quality
// ratio, a negative quality ratio, over_weight < 1 or max_iterations < 1.
CalibrationFit fit_calibration(std::span<const CalibrationTriple> triples, const FitOptions& options = {});

}  // namespace compactor::calibrate
