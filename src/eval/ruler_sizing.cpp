#include "eval/ruler_sizing.h"

#include <algorithm>
#include <stdexcept>

#include "eval/prompt_tokens.h"

namespace compactor::eval {

Sample make_sample_header(const TaskRequest& request, const std::string& metric, int64_t max_new_tokens) {
    Sample sample;
    sample.id = request.task + "/" + std::to_string(request.target_tokens) + "/" + std::to_string(request.index);
    sample.suite = "ruler";
    sample.task = request.task;
    sample.seed = request.seed;
    sample.index = request.index;
    sample.target_tokens = request.target_tokens;
    sample.metric = metric;
    sample.template_name = "ruler/" + request.task;
    sample.max_new_tokens = max_new_tokens;
    return sample;
}

SampleSizer::SampleSizer(const Tokenizer& tokenizer, const ChatTemplate& chat_template, int64_t target_tokens)
    : tokenizer_(tokenizer), chat_template_(chat_template), target_tokens_(target_tokens) {}

int64_t SampleSizer::length(const Sample& sample) const {
    return sized_length(tokenizer_, chat_template_, sample);
}

int64_t SampleSizer::count_tokens(std::string_view text) const {
    return static_cast<int64_t>(tokenizer_.encode(text, /*parse_special=*/false).size());
}

void SampleSizer::reject_target(int64_t minimum_length, int64_t extra_for_other_samples) const {
    // The draws (keys, words, the first essay sentence) depend on the index
    // and the target, so the shortest sample differs by up to about one
    // haystack unit between requests. The advice adds a quarter plus 64 tokens
    // and rounds up to a multiple of 64. A check of 30 samples of every task
    // at that advice found none that needed more.
    const int64_t needed = minimum_length + extra_for_other_samples;
    const int64_t advice = (needed + needed / 4 + 64 + 63) / 64 * 64;
    throw std::invalid_argument("a target of " + std::to_string(target_tokens_) +
                                " tokens is too small for this task. Its shortest sample takes " +
                                std::to_string(minimum_length) + " tokens with this target's random draws, so use at least " +
                                std::to_string(advice) + " tokens");
}

SampleSizer::Fit SampleSizer::fit(const std::function<Sample(int64_t)>& build, int64_t min_size, int64_t max_size,
                                  const std::function<int64_t()>& extra_for_other_samples) const {
    Fit best;
    best.sample = build(min_size);
    best.size = min_size;
    best.length = length(best.sample);
    if (best.length > target_tokens_) {
        reject_target(best.length, extra_for_other_samples ? std::max<int64_t>(0, extra_for_other_samples()) : 0);
    }

    // Doubling steps find a size that no longer fits (or reach max_size).
    int64_t fits = min_size;
    int64_t too_long = -1;
    int64_t step = 1;
    while (fits < max_size) {
        const int64_t candidate = std::min(max_size, fits + step);
        Sample sample = build(candidate);
        const int64_t candidate_length = length(sample);
        if (candidate_length > target_tokens_) {
            too_long = candidate;
            break;
        }
        best = Fit{std::move(sample), candidate, candidate_length};
        fits = candidate;
        step *= 2;
    }
    if (too_long < 0) return best;

    // Bisection keeps the invariant: `fits` fits and `too_long` does not.
    while (too_long - fits > 1) {
        const int64_t middle = fits + (too_long - fits) / 2;
        Sample sample = build(middle);
        const int64_t middle_length = length(sample);
        if (middle_length <= target_tokens_) {
            best = Fit{std::move(sample), middle, middle_length};
            fits = middle;
        } else {
            too_long = middle;
        }
    }
    return best;
}

}  // namespace compactor::eval
