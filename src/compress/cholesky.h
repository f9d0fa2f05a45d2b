// Small dense Cholesky factorization in double, with diagonal jitter.
#pragma once

#include <vector>

namespace compactor {

// Overwrite the lower triangle of the symmetric [k × k] row-major matrix `a`
// with L, where a = L Lᵀ. Returns false, leaving `a` partly overwritten, when
// `a` is not numerically positive definite or contains NaN.
bool cholesky_lower(std::vector<double>& a, int k);

// Factor gram + εI = L Lᵀ and return L [k × k], lower triangular with zeros
// above the diagonal. ε starts at `jitter` (kvpress 0.5.4 uses 1e-2) and
// grows tenfold per retry. From the first retry ε is also at least 1e-6 of
// the mean diagonal, because an absolute ε vanishes next to a large Gram.
// Throws std::runtime_error after `max_tries` failures, which in practice
// only a non-finite Gram reaches.
std::vector<double> cholesky_with_jitter(const std::vector<double>& gram, int k, double jitter = 1e-2,
                                         int max_tries = 5);

// Solve L z = r in place (forward substitution) for lower-triangular L [k × k].
void solve_lower(const std::vector<double>& lower, int k, double* r);

}  // namespace compactor
