#include "model/token_nll.h"

#include <cmath>

#include "model/softmax.h"

namespace compactor {

double token_nll_in_place(float* logits, int64_t n_vocab, int32_t target) {
    const float max_logit = max_of(logits, n_vocab);
    const double target_shifted = static_cast<double>(logits[target] - max_logit);
    const double sum = exp_shifted_in_place(logits, n_vocab, max_logit);
    return std::log(sum) - target_shifted;
}

}  // namespace compactor
