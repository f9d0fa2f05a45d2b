// ChatML prompt formatting (SmolLM2, Qwen2 and other ChatML models).
#pragma once

#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace compactor {

struct ChatMessage {
    std::string role;     // "system", "user" or "assistant"
    std::string content;
};

class ChatTemplate {
public:
    // Reads tokenizer.chat_template; the default system prompt is the one the
    // template inserts when the conversation has no system message (empty
    // when it inserts none).
    // A file without the key gets plain ChatML with no default system prompt.
    static ChatTemplate from_gguf(const gguf::GgufFile& file);

    // The same from the Jinja source of a template (empty: no template). A
    // template that does not use <|im_start|> and <|im_end|> is logged as a
    // warning and ChatML is used regardless.
    static ChatTemplate from_source(std::string source);

    // <|im_start|>{role}\n{content}<|im_end|>\n per message, the default
    // system message first when the first message is not a system message,
    // and "<|im_start|>assistant\n" at the end when add_generation_prompt.
    std::string format(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

    const std::string& default_system_prompt() const { return default_system_prompt_; }
    bool has_template() const { return !source_.empty(); }

private:
    std::string source_;
    std::string default_system_prompt_;
};

}  // namespace compactor
