// Sizing a RULER-style sample to a target length in model tokens: the task
// builds its sample for a haystack of n units (lines, sentences, list
// entries, documents), and the sizer searches n.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "eval/sample.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::eval {

// Identity of one sample: task, index, target length and seed.
struct TaskRequest {
    std::string task;
    int64_t index = 0;
    int64_t target_tokens = 0;
    uint64_t seed = 0;
};

// A sample with every field that does not depend on its content: id, suite,
// task, seed, index, target length, metric, template name and answer reserve.
Sample make_sample_header(const TaskRequest& request, const std::string& metric, int64_t max_new_tokens);

class SampleSizer {
public:
    SampleSizer(const Tokenizer& tokenizer, const ChatTemplate& chat_template, int64_t target_tokens);

    int64_t target_tokens() const { return target_tokens_; }

    // sized_length(): prompt tokens plus the answer reserve.
    int64_t length(const Sample& sample) const;

    // Tokens of `text` on its own (no special tokens parsed).
    int64_t count_tokens(std::string_view text) const;

    struct Fit {
        Sample sample;
        int64_t size = 0;    // haystack units
        int64_t length = 0;  // sized length in tokens
    };

    // The largest n in [min_size, max_size] with length(build(n)) <=
    // target_tokens, found by doubling steps and then bisection, so `build`
    // runs O(log n) times. build must be deterministic, and its length should
    // grow with n. Where it does not, the result still fits but may fall short
    // of the best n. Throws std::invalid_argument naming the shortest sample
    // and a target that works when even build(min_size) is too long.
    // extra_for_other_samples, called only then, returns how many more tokens
    // the fixed part of other samples of the task can take, as in the QA
    // tasks, whose gold paragraphs differ in length. Without it that is 0.
    Fit fit(const std::function<Sample(int64_t)>& build, int64_t min_size, int64_t max_size,
            const std::function<int64_t()>& extra_for_other_samples = {}) const;

    // Throws the std::invalid_argument of a target below `minimum_length`.
    [[noreturn]] void reject_target(int64_t minimum_length, int64_t extra_for_other_samples) const;

private:
    const Tokenizer& tokenizer_;
    const ChatTemplate& chat_template_;
    int64_t target_tokens_;
};

}  // namespace compactor::eval
