// Chat prompt formatting for ChatML models (SmolLM2, Qwen2) and Llama 3
// models, chosen from the GGUF's tokenizer.chat_template.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"

namespace compactor {

struct ChatMessage {
    std::string role;     // "system", "user" or "assistant"
    std::string content;
};

// The turn syntax a template renders.
enum class ChatFormat {
    chatml,  // <|im_start|>{role}\n{content}<|im_end|>\n
    llama3,  // <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>
};

// Returns the name of `format` ("chatml" or "llama3") for logs.
const char* to_string(ChatFormat format);

class ChatTemplate {
public:
    // Reads tokenizer.chat_template; the default system prompt is the one the
    // template inserts when the conversation has no system message (empty
    // when it inserts none).
    // A file without the key gets plain ChatML with no default system prompt.
    static ChatTemplate from_gguf(const gguf::GgufFile& file);

    // The same from the Jinja source of a template (empty: no template). A
    // template that uses <|start_header_id|> and <|end_header_id|> but not
    // <|im_start|> is Llama 3. Any other template is logged as a warning and
    // ChatML is used regardless.
    static ChatTemplate from_source(std::string source);

    // Every message as one turn, the default system turn first when the first
    // message is not a system message, and the assistant's turn start at the
    // end when add_generation_prompt. Llama 3 turns trim whitespace from both
    // ends of the content, as Llama 3's template does. The BOS token is not
    // part of the text, because the tokenizer adds it (tokenizer.ggml.add_bos_token).
    std::string format(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

    // The text that opens a turn of `role`, up to where its content starts.
    std::string turn_start(std::string_view role) const;

    // The text that closes a turn, after its content.
    std::string_view turn_end() const;

    ChatFormat chat_format() const { return format_; }
    const std::string& default_system_prompt() const { return default_system_prompt_; }
    bool has_template() const { return !source_.empty(); }

private:
    std::string source_;
    std::string default_system_prompt_;
    ChatFormat format_ = ChatFormat::chatml;
};

}  // namespace compactor
