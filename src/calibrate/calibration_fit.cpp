#include "calibrate/calibration_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "calibrate/quality_curve.h"

namespace compactor::calibrate {

namespace {

// Range of b searched when inverting the curve for a starting point, the range
// the curve is meant for. A measurement past either end inverts to that end.
constexpr double kMinStartB = -50.0;
constexpr double kMaxStartB = 200.0;

// Levenberg–Marquardt damping: start, floor, shrink and growth factor, and the
// value past which a run stops because no damped step lowers the loss.
constexpr double kInitialDamping = 1e-3;
constexpr double kMinDamping = 1e-12;
constexpr double kDampingFactor = 10.0;
constexpr double kMaxDamping = 1e16;

// An accepted step stops the run when it moves every parameter by less than
// this share of its magnitude, or lowers the loss by less than this share.
constexpr double kStepTolerance = 1e-10;
constexpr double kLossTolerance = 1e-14;

struct Parameters {
    double alpha = 0.0;
    double beta = 0.0;
};

// The weighted loss at one point and, when requested, the Gauss–Newton normal
// equations JᵀWJ and gradient JᵀW r for J = ∂(f − g)/∂(α, β).
struct Evaluation {
    double loss = 0.0;
    double jtj_alpha_alpha = 0.0;
    double jtj_alpha_beta = 0.0;
    double jtj_beta_beta = 0.0;
    double gradient_alpha = 0.0;
    double gradient_beta = 0.0;
};

struct RunResult {
    Parameters parameters;
    double loss = 0.0;
    int iterations = 0;
    bool converged = false;
};

void validate(std::span<const CalibrationTriple> triples, const FitOptions& options) {
    if (triples.size() < 3)
        throw std::invalid_argument(fmt::format(
            "fit_calibration: {} triples given but at least 3 are needed to fit alpha and beta; "
            "measure more documents or kept fractions",
            triples.size()));
    if (!std::isfinite(options.over_weight) || options.over_weight < 1.0)
        throw std::invalid_argument(fmt::format(
            "fit_calibration: over_weight {} is invalid; use a finite value >= 1 (1 weighs both sides equally)",
            options.over_weight));
    if (options.max_iterations < 1)
        throw std::invalid_argument(
            fmt::format("fit_calibration: max_iterations {} is invalid; use at least 1", options.max_iterations));

    for (size_t i = 0; i < triples.size(); ++i) {
        const CalibrationTriple& triple = triples[i];
        if (!std::isfinite(triple.kept_fraction) || triple.kept_fraction <= 0.0 || triple.kept_fraction > 1.0)
            throw std::invalid_argument(fmt::format(
                "fit_calibration: triples[{}].kept_fraction {} is outside (0, 1]; pass the share of KV cache "
                "entries kept",
                i, triple.kept_fraction));
        if (!std::isfinite(triple.context_nll))
            throw std::invalid_argument(fmt::format(
                "fit_calibration: triples[{}].context_nll {} is not finite; drop the document or recompute its "
                "mean per-token NLL",
                i, triple.context_nll));
        if (!std::isfinite(triple.quality_ratio) || triple.quality_ratio < 0.0)
            throw std::invalid_argument(fmt::format(
                "fit_calibration: triples[{}].quality_ratio {} is invalid; it must be finite and >= 0 "
                "(NLL with the full cache / NLL with the compressed cache)",
                i, triple.quality_ratio));
    }
}

// Whether the context NLLs span too small a range to separate α from β. The
// tolerance is relative, because a spread of a few ulps is rounding noise.
bool context_nll_is_constant(std::span<const CalibrationTriple> triples) {
    const auto [min_it, max_it] = std::minmax_element(
        triples.begin(), triples.end(),
        [](const CalibrationTriple& a, const CalibrationTriple& b) { return a.context_nll < b.context_nll; });
    const double scale = std::max({1.0, std::abs(min_it->context_nll), std::abs(max_it->context_nll)});
    return max_it->context_nll - min_it->context_nll <= 1e-12 * scale;
}

// Sums the loss, and with `with_normal_equations` also JᵀWJ and JᵀW r, at
// `parameters`. Weights are chosen from the sign of each residual at this
// point, which makes the Gauss–Newton steps iteratively reweighted. Returns
// an infinite loss when some b is not finite, so the caller rejects the step.
Evaluation evaluate(std::span<const CalibrationTriple> triples, Parameters parameters, double over_weight,
                    bool with_normal_equations) {
    Evaluation evaluation;
    for (const CalibrationTriple& triple : triples) {
        const double b = curve_b(parameters.alpha, parameters.beta, triple.context_nll);
        if (!std::isfinite(b)) {
            evaluation.loss = std::numeric_limits<double>::infinity();
            return evaluation;
        }

        const double residual = quality_curve(triple.kept_fraction, b) - triple.quality_ratio;
        const double weight = residual > 0.0 ? over_weight : 1.0;
        evaluation.loss += weight * residual * residual;
        if (!with_normal_equations) continue;

        // ∂r/∂β = ∂f/∂b and ∂r/∂α = c · ∂f/∂b.
        const double d_beta = quality_curve_db(triple.kept_fraction, b);
        const double d_alpha = triple.context_nll * d_beta;
        evaluation.jtj_alpha_alpha += weight * d_alpha * d_alpha;
        evaluation.jtj_alpha_beta += weight * d_alpha * d_beta;
        evaluation.jtj_beta_beta += weight * d_beta * d_beta;
        evaluation.gradient_alpha += weight * d_alpha * residual;
        evaluation.gradient_beta += weight * d_beta * residual;
    }
    return evaluation;
}

// Solves (JᵀWJ + λ·D) δ = −JᵀW r for the step δ, where D is the diagonal of
// JᵀWJ floored at a small share of its largest entry, so a flat direction
// still gets damped. With `alpha_fixed` only β moves.
Parameters damped_step(const Evaluation& at, double damping, bool alpha_fixed) {
    const double largest = std::max({at.jtj_alpha_alpha, at.jtj_beta_beta, std::numeric_limits<double>::min()});
    const double floor = 1e-12 * largest;
    const double a11 = at.jtj_alpha_alpha + damping * std::max(at.jtj_alpha_alpha, floor);
    const double a22 = at.jtj_beta_beta + damping * std::max(at.jtj_beta_beta, floor);
    const double a12 = at.jtj_alpha_beta;

    if (alpha_fixed) return {0.0, -at.gradient_beta / a22};

    // Cramer's rule. The damped matrix is positive definite, so det > 0 up to
    // rounding, which a failed trial step then catches.
    const double det = a11 * a22 - a12 * a12;
    return {
        -(a22 * at.gradient_alpha - a12 * at.gradient_beta) / det,
        -(a11 * at.gradient_beta - a12 * at.gradient_alpha) / det,
    };
}

bool step_is_small(Parameters step, Parameters at) {
    return std::abs(step.alpha) <= kStepTolerance * (std::abs(at.alpha) + kStepTolerance) &&
           std::abs(step.beta) <= kStepTolerance * (std::abs(at.beta) + kStepTolerance);
}

// Runs Levenberg–Marquardt from `start`. One iteration is one accepted step.
// A run also ends, converged, when even a tiny damped step cannot lower the
// loss, because then no descent direction is left at double precision.
RunResult run_levenberg_marquardt(std::span<const CalibrationTriple> triples, Parameters start,
                                  const FitOptions& options, bool alpha_fixed) {
    RunResult run;
    run.parameters = start;
    Evaluation current = evaluate(triples, start, options.over_weight, true);
    run.loss = current.loss;
    if (!std::isfinite(run.loss)) return run;

    double damping = kInitialDamping;
    while (run.iterations < options.max_iterations) {
        std::optional<Parameters> accepted_step;
        Evaluation trial;
        while (damping <= kMaxDamping) {
            const Parameters step = damped_step(current, damping, alpha_fixed);
            const Parameters candidate{run.parameters.alpha + step.alpha, run.parameters.beta + step.beta};
            trial = evaluate(triples, candidate, options.over_weight, false);
            if (std::isfinite(trial.loss) && trial.loss < run.loss) {
                accepted_step = step;
                damping = std::max(damping / kDampingFactor, kMinDamping);
                break;
            }
            damping *= kDampingFactor;
        }
        if (!accepted_step) {
            run.converged = true;
            return run;
        }

        ++run.iterations;
        const double previous_loss = run.loss;
        run.parameters.alpha += accepted_step->alpha;
        run.parameters.beta += accepted_step->beta;
        current = evaluate(triples, run.parameters, options.over_weight, true);
        run.loss = current.loss;

        const bool loss_settled = previous_loss - run.loss <= kLossTolerance * previous_loss;
        if (step_is_small(*accepted_step, run.parameters) || loss_settled) {
            run.converged = true;
            return run;
        }
    }
    return run;
}

// The b for which f(k; b) = g, found by bisection, since f falls strictly in b
// for k in (0, 1). Clamped to [kMinStartB, kMaxStartB].
double invert_curve_for_b(double kept_fraction, double quality_ratio) {
    double low = kMinStartB;
    double high = kMaxStartB;
    if (quality_ratio >= quality_curve(kept_fraction, low)) return low;
    if (quality_ratio <= quality_curve(kept_fraction, high)) return high;
    for (int i = 0; i < 100; ++i) {
        const double middle = 0.5 * (low + high);
        if (quality_curve(kept_fraction, middle) > quality_ratio) {
            low = middle;
        } else {
            high = middle;
        }
    }
    return 0.5 * (low + high);
}

// A starting point from ordinary least squares of b on c, where each triple's
// b inverts the curve through its measurement. Triples at k = 1 or with g
// outside (0, 1) have no finite b and are skipped. Returns nothing when too
// few triples remain to fit a line.
std::optional<Parameters> start_from_inverted_b(std::span<const CalibrationTriple> triples, bool alpha_fixed) {
    std::vector<double> contexts;
    std::vector<double> bs;
    for (const CalibrationTriple& triple : triples) {
        if (triple.kept_fraction >= 1.0 || triple.quality_ratio <= 0.0 || triple.quality_ratio >= 1.0) continue;
        contexts.push_back(triple.context_nll);
        bs.push_back(invert_curve_for_b(triple.kept_fraction, triple.quality_ratio));
    }
    if (bs.size() < 2) return std::nullopt;

    const double n = static_cast<double>(bs.size());
    double mean_context = 0.0;
    double mean_b = 0.0;
    for (size_t i = 0; i < bs.size(); ++i) {
        mean_context += contexts[i] / n;
        mean_b += bs[i] / n;
    }
    if (alpha_fixed) return Parameters{0.0, mean_b};

    double covariance = 0.0;
    double variance = 0.0;
    for (size_t i = 0; i < bs.size(); ++i) {
        covariance += (contexts[i] - mean_context) * (bs[i] - mean_b);
        variance += (contexts[i] - mean_context) * (contexts[i] - mean_context);
    }
    if (!(variance > 0.0)) return Parameters{0.0, mean_b};
    const double alpha = covariance / variance;
    return Parameters{alpha, mean_b - alpha * mean_context};
}

std::vector<Parameters> starting_points(std::span<const CalibrationTriple> triples, bool alpha_fixed) {
    std::vector<Parameters> starts;
    if (const std::optional<Parameters> inverted = start_from_inverted_b(triples, alpha_fixed)) {
        starts.push_back(*inverted);
    }
    for (const double beta : {-10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0}) starts.push_back({0.0, beta});
    return starts;
}

// Fills the error summary of `fit` at its α, β.
void summarize_residuals(std::span<const CalibrationTriple> triples, double over_weight, CalibrationFit& fit) {
    double loss = 0.0;
    double squared_sum = 0.0;
    double residual_sum = 0.0;
    int64_t n_over = 0;
    for (const CalibrationTriple& triple : triples) {
        const double b = curve_b(fit.alpha, fit.beta, triple.context_nll);
        const double residual = quality_curve(triple.kept_fraction, b) - triple.quality_ratio;
        loss += (residual > 0.0 ? over_weight : 1.0) * residual * residual;
        squared_sum += residual * residual;
        residual_sum += residual;
        if (residual > 0.0) ++n_over;
    }

    const double n = static_cast<double>(triples.size());
    fit.loss = loss;
    fit.rmse = std::sqrt(squared_sum / n);
    fit.mean_residual = residual_sum / n;
    fit.over_fraction = static_cast<double>(n_over) / n;
    fit.n_triples = static_cast<int64_t>(triples.size());
}

}  // namespace

CalibrationFit fit_calibration(std::span<const CalibrationTriple> triples, const FitOptions& options) {
    validate(triples, options);

    // With one context NLL c for all triples, every b = α·c + β is the same
    // number, so the data fix that sum but not α. Rather than throw, the fit
    // sets α = 0 and fits β, which still gives a usable curve for documents
    // like the measured ones.
    const bool alpha_fixed = context_nll_is_constant(triples);

    std::optional<RunResult> best;
    for (const Parameters& start : starting_points(triples, alpha_fixed)) {
        const RunResult run = run_levenberg_marquardt(triples, start, options, alpha_fixed);
        if (!std::isfinite(run.loss)) continue;
        if (!best || run.loss < best->loss) best = run;
    }
    // Every start is finite, so b and the loss are finite there and some run
    // always ends with a finite loss.
    if (!best) throw std::logic_error("fit_calibration: no starting point gave a finite loss");

    CalibrationFit fit{};
    fit.alpha = best->parameters.alpha;
    fit.beta = best->parameters.beta;
    fit.alpha_fixed = alpha_fixed;
    fit.iterations = best->iterations;
    fit.converged = best->converged;
    summarize_residuals(triples, options.over_weight, fit);
    return fit;
}

}  // namespace compactor::calibrate
