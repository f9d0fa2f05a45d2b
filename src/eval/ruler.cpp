#include "eval/ruler.h"

#include <chrono>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "eval/ruler_data.h"
#include "eval/ruler_layout.h"
#include "eval/ruler_tasks.h"

namespace compactor::eval {

const std::vector<std::string>& ruler_task_names() {
    static const std::vector<std::string> names = {
        "niah_single_1",   "niah_single_2",   "niah_single_3",   "niah_multikey_1", "niah_multikey_2",
        "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt",              "cwe",
        "fwe",             "qa_1",            "qa_2",
    };
    return names;
}

struct RulerGenerator::Impl {
    Impl(std::string data_dir, const Tokenizer& tokenizer_in, const ChatTemplate& chat_template_in)
        : data(std::move(data_dir)), tokenizer(tokenizer_in), chat_template(chat_template_in) {}

    RulerData data;
    const Tokenizer& tokenizer;
    const ChatTemplate& chat_template;
};

RulerGenerator::RulerGenerator(std::string data_dir, const Tokenizer& tokenizer, const ChatTemplate& chat_template)
    : impl_(std::make_unique<Impl>(std::move(data_dir), tokenizer, chat_template)) {}

RulerGenerator::~RulerGenerator() = default;

namespace {

Sample build_sample(const TaskRequest& request, const RulerData& data, const SampleSizer& sizer) {
    const std::string& task = request.task;
    if (is_needle_task(task)) return build_needle_sample(request, data, sizer);
    if (task == "vt") return build_variable_tracking_sample(request, data, sizer);
    if (task == "cwe") return build_common_words_sample(request, data, sizer);
    if (task == "fwe") return build_frequent_words_sample(request, data, sizer);
    if (task == "qa_1") return build_squad_sample(request, data, sizer);
    if (task == "qa_2") return build_hotpot_sample(request, data, sizer);
    throw std::invalid_argument("unknown ruler task '" + task + "'; expected one of: " +
                                join(ruler_task_names(), ", "));
}

}  // namespace

Sample RulerGenerator::generate(const std::string& task, int64_t index, int64_t target_tokens, uint64_t seed) const {
    if (index < 0) throw std::invalid_argument("invalid sample index " + std::to_string(index) + "; use 0 or more");
    if (target_tokens <= 0) {
        throw std::invalid_argument("invalid target length " + std::to_string(target_tokens) +
                                    " tokens; use a positive number such as 4096");
    }

    const TaskRequest request{task, index, target_tokens, seed};
    const SampleSizer sizer(impl_->tokenizer, impl_->chat_template, target_tokens);
    const auto start = std::chrono::steady_clock::now();

    Sample sample;
    try {
        sample = build_sample(request, impl_->data, sizer);
    } catch (const std::invalid_argument& error) {
        // Messages from the builders and the data files lack the task.
        const std::string message = error.what();
        if (message.starts_with("unknown ruler task")) throw;
        throw std::invalid_argument("ruler task '" + task + "': " + message);
    }

    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const int64_t length = sizer.length(sample);
    spdlog::debug("ruler: generated {} ({} of {} tokens, {} chars of context) in {:.1f} ms", sample.id, length,
                  target_tokens, sample.context.size(), elapsed_ms);
    if (10 * length < 9 * target_tokens) {
        spdlog::warn("ruler: {} fills only {} of its {} tokens, because the haystack's steps are coarse at this "
                     "length or its data ran out",
                     sample.id, length, target_tokens);
    }
    return sample;
}

}  // namespace compactor::eval
