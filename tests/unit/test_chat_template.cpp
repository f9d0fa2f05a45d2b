// compactor-test-libs: compactor_tokenizer nlohmann_json::nlohmann_json
// ChatML formatting against jinja2 renderings of SmolLM2's own template
// (tests/golden/chat_template.json, from tools/tokenizer_golden.py).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "tokenizer/chat_template.h"

namespace compactor {
namespace {

nlohmann::json load_golden() {
    std::ifstream in(test::golden_path("chat_template.json"));
    if (!in) throw std::runtime_error("missing golden chat_template.json; run tools/tokenizer_golden.py");
    return nlohmann::json::parse(in);
}

TEST(ChatTemplate, MatchesJinjaRendering) {
    const nlohmann::json golden = load_golden();
    const ChatTemplate chat = ChatTemplate::from_source(golden.at("template").get<std::string>());
    EXPECT_EQ(chat.default_system_prompt(), "You are a helpful AI assistant named SmolLM, trained by Hugging Face");

    const auto& cases = golden.at("cases");
    ASSERT_GE(cases.size(), 5u);
    for (size_t i = 0; i < cases.size(); ++i) {
        std::vector<ChatMessage> messages;
        for (const auto& m : cases[i].at("messages")) messages.push_back({m.at("role"), m.at("content")});
        const bool add_generation_prompt = cases[i].at("add_generation_prompt").get<bool>();
        EXPECT_EQ(chat.format(messages, add_generation_prompt), cases[i].at("expected").get<std::string>())
            << "case " << i;
    }
}

TEST(ChatTemplate, SystemMessageReplacesDefault) {
    const ChatTemplate chat = ChatTemplate::from_source(load_golden().at("template").get<std::string>());
    const std::string prompt = chat.format({{"system", "S"}, {"user", "U"}}, false);
    EXPECT_EQ(prompt, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n");
}

TEST(ChatTemplate, EmptyConversation) {
    const ChatTemplate chat = ChatTemplate::from_source(load_golden().at("template").get<std::string>());
    EXPECT_EQ(chat.format({}, false), "");
    EXPECT_EQ(chat.format({}, true), "<|im_start|>assistant\n");
}

TEST(ChatTemplate, DefaultPromptFromEscapedLiteral) {
    // Qwen2.5-style: a tools branch opens a system turn across several
    // literals; the first literal holding a whole system turn is the default.
    const std::string source =
        "{%- if tools %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
        "{%- elif messages[0]['role'] != 'system' %}"
        "{{- \"<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. \\\"Be\\\" helpful.<|im_end|>\\n\" }}"
        "{%- endif %}don't{{ '<|im_start|>' + message['role'] }}";
    const ChatTemplate chat = ChatTemplate::from_source(source);
    EXPECT_TRUE(chat.has_template());
    EXPECT_EQ(chat.default_system_prompt(), "You are Qwen, created by Alibaba Cloud. \"Be\" helpful.");
}

TEST(ChatTemplate, TemplateWithoutDefaultPrompt) {
    const ChatTemplate chat = ChatTemplate::from_source(
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
        "'<|im_end|>' + '\\n'}}{% endfor %}");
    EXPECT_EQ(chat.default_system_prompt(), "");
    EXPECT_EQ(chat.format({{"user", "Hi"}}, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, OtherTemplateUsesChatMl) {
    const ChatTemplate chat = ChatTemplate::from_source(
        "{{ '<|start_header_id|>system<|end_header_id|>\\n\\nYou are Llama.<|eot_id|>' }}");
    EXPECT_TRUE(chat.has_template());
    EXPECT_EQ(chat.default_system_prompt(), "");
    EXPECT_EQ(chat.format({{"user", "Hi"}}, false), "<|im_start|>user\nHi<|im_end|>\n");
}

}  // namespace
}  // namespace compactor
