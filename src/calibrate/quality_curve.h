// The quality curve: answer quality as a function of the kept fraction of the
// KV cache, and its inverse, which turns a quality budget τ into a kept
// fraction per document.
//
// The curve is f(k; b) = expm1(b·k) / expm1(b) for k ∈ [0, 1], so f(0) = 0 and
// f(1) = 1. Its shape parameter b depends on the document: b = α·c + β, where c
// is the model's mean per-token negative log-likelihood of the document and α, β
// are fitted per model and compression method (see calibration_fit.h). b > 0
// bends the curve below the diagonal, so quality drops quickly as the cache is
// cut. b < 0 bends it above, and b → 0 gives f(k) = k.
#pragma once

namespace compactor::calibrate {

// Computes f(k; b), the predicted quality ratio (dimensionless, in [0, 1]) of a
// cache kept to `kept_fraction` k ∈ [0, 1]. Stable for any finite b: it never
// overflows and returns k at b = 0. Throws std::invalid_argument when k is
// outside [0, 1] or either argument is not finite.
double quality_curve(double kept_fraction, double b);

// Computes ∂f/∂b at (k, b), which is k(k − 1)/2 at b = 0 and tends to 0 as
// |b| → ∞. Same domain and errors as quality_curve.
double quality_curve_db(double kept_fraction, double b);

// Solves f(k; b) = τ for k: the smallest kept fraction whose predicted quality
// ratio reaches the budget `tau`. Returns τ when |b| < 1e-9 and 1 when τ = 1, and
// clamps the result to [0, 1]. Throws std::invalid_argument when τ is outside
// (0, 1] or b is not finite.
double kept_fraction_for_quality(double tau, double b);

// Returns the curve parameter b = α·c + β for a document whose mean per-token
// negative log-likelihood is `context_nll` c (nats per token).
double curve_b(double alpha, double beta, double context_nll);

}  // namespace compactor::calibrate
