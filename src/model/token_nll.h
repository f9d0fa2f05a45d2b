// Negative log-likelihood of tokens under the model's logits, for the
// document's own NLL during prefill and for teacher-forced answers.
#pragma once

#include <cstdint>

namespace compactor {

// −log softmax(logits)[target] in nats, with the row's maximum subtracted so
// it stays finite for any finite logits. Overwrites logits[0 .. n_vocab)
// with exponentials: the vectorized exp in place costs a fraction of a
// libm call per entry, and vocabularies reach 150k entries.
double token_nll_in_place(float* logits, int64_t n_vocab, int32_t target);

// Running sum of next-token NLLs over a prefill. Model::forward fills it for
// the positions `stride` selects, so the output head runs on 1/stride of
// the tokens only.
struct NextTokenNll {
    // Score the prediction made at position p when p % stride == 0 and the
    // predicted token's position p + 1 is at least first_target (so a prompt
    // template before the document can be left out). stride >= 1.
    int64_t stride = 1;
    int64_t first_target = 0;

    double nll_sum = 0;   // nats, over the scored predictions
    int64_t n_scored = 0;

    // Mean NLL per scored token in nats; 0 when nothing was scored.
    double mean() const { return n_scored > 0 ? nll_sum / static_cast<double>(n_scored) : 0.0; }
};

}  // namespace compactor
