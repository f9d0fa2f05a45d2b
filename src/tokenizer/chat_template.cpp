#include "tokenizer/chat_template.h"

#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>

#include "tokenizer/trim.h"

namespace compactor {

namespace {

constexpr std::string_view kImStart = "<|im_start|>";
constexpr std::string_view kImEnd = "<|im_end|>";
constexpr std::string_view kStartHeader = "<|start_header_id|>";
constexpr std::string_view kEndHeader = "<|end_header_id|>";
constexpr std::string_view kEotId = "<|eot_id|>";
constexpr std::string_view kChatTemplateKey = "tokenizer.chat_template";

// The value of a Jinja string literal body, with Python's common escapes
// resolved; unknown escapes keep their backslash, as Python does.
std::string unescape_literal(std::string_view body) {
    std::string out;
    for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '\\' || i + 1 == body.size()) {
            out.push_back(body[i]);
            continue;
        }
        const char next = body[++i];
        switch (next) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        default:
            out.push_back('\\');
            out.push_back(next);
        }
    }
    return out;
}

// Append the string literals of one Jinja tag body ({{ ... }} or {% ... %}).
void collect_literals(std::string_view tag, std::vector<std::string>& out) {
    size_t pos = 0;
    while (pos < tag.size()) {
        const char quote = tag[pos];
        if (quote != '\'' && quote != '"') {
            ++pos;
            continue;
        }

        size_t end = pos + 1;
        while (end < tag.size() && tag[end] != quote) end += tag[end] == '\\' ? 2 : 1;
        if (end >= tag.size()) return;  // unterminated literal: the template is malformed there
        out.push_back(unescape_literal(tag.substr(pos + 1, end - pos - 1)));
        pos = end + 1;
    }
}

// The string literals inside the template's tags, in source order. Text
// outside tags is output verbatim and may contain lone quotes, so it is skipped.
std::vector<std::string> template_literals(std::string_view source) {
    std::vector<std::string> literals;
    size_t pos = 0;
    while (true) {
        const size_t open = source.find('{', pos);
        if (open == std::string_view::npos || open + 1 >= source.size()) break;
        const char kind = source[open + 1];
        if (kind != '{' && kind != '%') {
            pos = open + 1;
            continue;
        }

        const std::string_view closing = kind == '{' ? "}}" : "%}";
        const size_t close = source.find(closing, open + 2);
        if (close == std::string_view::npos) break;
        collect_literals(source.substr(open + 2, close - open - 2), literals);
        pos = close + 2;
    }
    return literals;
}

// The system prompt of the first literal that writes a whole system turn,
// from `opening` ("<|im_start|>system\n" for ChatML) to `closing` ("<|im_end|>").
std::optional<std::string> find_default_system_prompt(std::string_view source, std::string_view opening,
                                                      std::string_view closing) {
    for (const std::string& literal : template_literals(source)) {
        const size_t start = literal.find(opening);
        if (start == std::string::npos) continue;
        const size_t content = start + opening.size();
        const size_t end = literal.find(closing, content);
        if (end == std::string::npos) continue;
        return literal.substr(content, end - content);
    }
    return std::nullopt;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

const char* to_string(ChatFormat format) {
    switch (format) {
        case ChatFormat::chatml: return "chatml";
        case ChatFormat::llama3: return "llama3";
    }
    return "unknown";
}

ChatTemplate ChatTemplate::from_gguf(const gguf::GgufFile& file) {
    const std::string key(kChatTemplateKey);
    if (!file.has(key)) {
        spdlog::info("chat template: {} has no {}; using ChatML with no default system prompt", file.path(), key);
        return from_source("");
    }
    return from_source(file.get_string(key));
}

ChatTemplate ChatTemplate::from_source(std::string source) {
    ChatTemplate chat;
    chat.source_ = std::move(source);
    if (chat.source_.empty()) return chat;

    const bool chatml = contains(chat.source_, kImStart) && contains(chat.source_, kImEnd);
    const bool llama3 = contains(chat.source_, kStartHeader) && contains(chat.source_, kEndHeader);
    if (!chatml && llama3) {
        chat.format_ = ChatFormat::llama3;
    } else if (!chatml) {
        spdlog::warn("chat template: the model's template uses neither ChatML ({} and {}) nor Llama 3 ({} and {}) "
                     "turns; formatting prompts as ChatML, which this model may not expect",
                     kImStart, kImEnd, kStartHeader, kEndHeader);
        return chat;
    }

    const std::string_view closing = chat.format_ == ChatFormat::llama3 ? kEotId : kImEnd;
    if (auto prompt = find_default_system_prompt(chat.source_, chat.turn_start("system"), closing)) {
        chat.default_system_prompt_ = std::move(*prompt);
    }
    return chat;
}

std::string ChatTemplate::turn_start(std::string_view role) const {
    std::string out;
    if (format_ == ChatFormat::llama3) {
        out += kStartHeader;
        out += role;
        out += kEndHeader;
        out += "\n\n";
        return out;
    }
    out += kImStart;
    out += role;
    out += '\n';
    return out;
}

std::string_view ChatTemplate::turn_end() const {
    if (format_ == ChatFormat::llama3) return kEotId;
    return "<|im_end|>\n";
}

std::string ChatTemplate::format(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    std::string out;
    const auto append_turn = [&](std::string_view role, std::string_view content) {
        out += turn_start(role);
        out += format_ == ChatFormat::llama3 ? trim_whitespace(content) : content;
        out += turn_end();
    };

    const bool starts_with_system = !messages.empty() && messages.front().role == "system";
    if (!messages.empty() && !starts_with_system && !default_system_prompt_.empty()) {
        append_turn("system", default_system_prompt_);
    }

    for (const ChatMessage& message : messages) append_turn(message.role, message.content);

    if (add_generation_prompt) out += turn_start("assistant");
    return out;
}

}  // namespace compactor
