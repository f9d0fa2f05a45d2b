#include "eval/longbench_split.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace compactor::eval {

namespace {

constexpr std::string_view kContextField = "{context}";
constexpr std::string_view kInputField = "{input}";

bool is_continuation_byte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// About the first `n` bytes of `text` on one line, cut between UTF-8
// characters, for messages.
std::string excerpt(std::string_view text, size_t n = 40) {
    while (n < text.size() && n > 0 && is_continuation_byte(text[n])) --n;
    std::string out;
    for (char c : text.substr(0, n)) {
        if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return text.size() > n ? out + "..." : out;
}

// Describe where `prompt` stops following the template's `prefix`.
std::string prefix_mismatch(std::string_view prompt, std::string_view prefix) {
    size_t at = 0;
    while (at < prompt.size() && at < prefix.size() && prompt[at] == prefix[at]) ++at;
    while (at > 0 && at < prompt.size() && is_continuation_byte(prompt[at])) --at;
    return fmt::format("at byte {} the template has \"{}\" but the prompt has \"{}\"", at,
                       excerpt(prefix.substr(at)), excerpt(prompt.substr(at)));
}

// Describe how the end of `prompt` differs from the template's `suffix`.
std::string suffix_mismatch(std::string_view prompt, std::string_view suffix) {
    size_t n = std::min(prompt.size(), suffix.size());
    while (n > 0 && is_continuation_byte(prompt[prompt.size() - n])) --n;
    return fmt::format("the prompt ends with \"{}\" instead of the template's \"{}\"",
                       excerpt(prompt.substr(prompt.size() - n), 200), excerpt(suffix, 200));
}

// Find where the input starts inside `middle` (context + separator + input);
// npos when no separator qualifies.
size_t find_input_start(std::string_view middle, const LongBenchTemplate& format, const LongBenchTaskRule& rule) {
    const std::string boundary = format.separator + std::string(rule.input_marker);
    size_t search_end = middle.size();
    while (true) {
        const size_t found = middle.rfind(boundary, search_end);
        if (found == std::string_view::npos) return std::string_view::npos;
        const size_t input_start = found + format.separator.size();
        if (input_start < middle.size()) return input_start;
        if (found == 0) return std::string_view::npos;
        search_end = found - 1;
    }
}

// The parts of `prompt` under `format`, or an explanation of the mismatch.
bool try_split(std::string_view prompt, const LongBenchTemplate& format, const LongBenchTaskRule& rule,
               PromptParts& parts, std::string& mismatch) {
    if (!prompt.starts_with(format.prefix)) {
        mismatch = prefix_mismatch(prompt, format.prefix);
        return false;
    }
    if (prompt.size() < format.prefix.size() + format.suffix.size() || !prompt.ends_with(format.suffix)) {
        mismatch = suffix_mismatch(prompt, format.suffix);
        return false;
    }

    const std::string_view middle =
        prompt.substr(format.prefix.size(), prompt.size() - format.prefix.size() - format.suffix.size());
    if (!format.has_input) {
        parts.context = std::string(prompt.substr(0, prompt.size() - format.suffix.size()));
        parts.question = format.suffix;
        parts.template_name = format.name;
        return true;
    }

    const size_t input_start = find_input_start(middle, format, rule);
    if (input_start == std::string_view::npos) {
        mismatch = fmt::format("no \"{}{}\" separates the context from a non-empty input", excerpt(format.separator),
                               rule.input_marker);
        return false;
    }
    const size_t context_end = format.prefix.size() + input_start - format.separator.size();
    parts.context = std::string(prompt.substr(0, context_end));
    parts.question = std::string(prompt.substr(context_end));
    parts.template_name = format.name;
    return true;
}

}  // namespace

LongBenchTemplate LongBenchTemplate::parse(std::string name, std::string_view text) {
    const size_t context_at = text.find(kContextField);
    if (context_at == std::string_view::npos) {
        throw std::invalid_argument(fmt::format("template '{}' has no {} field", name, kContextField));
    }
    if (text.find(kContextField, context_at + 1) != std::string_view::npos) {
        throw std::invalid_argument(fmt::format("template '{}' has {} twice", name, kContextField));
    }

    const size_t input_at = text.find(kInputField);
    if (input_at != std::string_view::npos && text.find(kInputField, input_at + 1) != std::string_view::npos) {
        throw std::invalid_argument(fmt::format("template '{}' has {} twice", name, kInputField));
    }
    if (input_at != std::string_view::npos && input_at < context_at) {
        throw std::invalid_argument(
            fmt::format("template '{}' puts {} before {}; the context must come first", name, kInputField,
                        kContextField));
    }

    LongBenchTemplate format;
    format.name = std::move(name);
    format.prefix = std::string(text.substr(0, context_at));
    const size_t after_context = context_at + kContextField.size();
    if (input_at == std::string_view::npos) {
        format.suffix = std::string(text.substr(after_context));
    } else {
        format.has_input = true;
        format.separator = std::string(text.substr(after_context, input_at - after_context));
        format.suffix = std::string(text.substr(input_at + kInputField.size()));
    }
    return format;
}

PromptParts split_longbench_prompt(std::string_view prompt, const LongBenchTaskRule& rule,
                                   const std::vector<LongBenchTemplate>& templates) {
    if (templates.empty()) throw std::invalid_argument("no template to split the prompt with");

    std::string first_mismatch;
    for (const LongBenchTemplate& format : templates) {
        if (format.has_input && format.separator.empty() && rule.input_marker.empty()) {
            // Nothing in the prompt marks where the input starts (repobench-p).
            std::string mismatch = fmt::format(
                "template '{}' has no text between {} and {}, so the prompt cannot be split; give the sample as "
                "separate \"context\" and \"input\" fields",
                format.name, kContextField, kInputField);
            if (first_mismatch.empty()) first_mismatch = std::move(mismatch);
            continue;
        }

        PromptParts parts;
        std::string mismatch;
        if (try_split(prompt, format, rule, parts, mismatch)) return parts;
        if (first_mismatch.empty()) first_mismatch = fmt::format("{} ({})", mismatch, format.name);
    }
    throw std::invalid_argument("the prompt does not match the task's template: " + first_mismatch);
}

PromptParts join_longbench_fields(std::string_view context, std::string_view input, const LongBenchTemplate& format) {
    PromptParts parts;
    parts.context = format.prefix + std::string(context);
    parts.question = format.has_input ? format.separator + std::string(input) + format.suffix : format.suffix;
    parts.template_name = format.name;
    return parts;
}

}  // namespace compactor::eval
