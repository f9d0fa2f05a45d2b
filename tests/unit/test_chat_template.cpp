// compactor-test-libs: compactor_tokenizer nlohmann_json::nlohmann_json
// ChatML formatting against jinja2 renderings of SmolLM2's own template
// (tests/golden/chat_template.json, from tools/tokenizer_golden.py), and
// Llama 3 formatting against renderings of templates in its turn syntax
// (tests/golden/chat_template_llama3.json, from tools/chat_template_golden.py).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "tokenizer/chat_template.h"

namespace compactor {
namespace {

nlohmann::json load_golden(const std::string& name = "chat_template.json",
                           const std::string& script = "tools/tokenizer_golden.py") {
    std::ifstream in(test::golden_path(name));
    if (!in) throw std::runtime_error("missing golden " + name + "; run " + script);
    return nlohmann::json::parse(in);
}

std::vector<ChatMessage> messages_of(const nlohmann::json& golden_case) {
    std::vector<ChatMessage> messages;
    for (const auto& m : golden_case.at("messages")) messages.push_back({m.at("role"), m.at("content")});
    return messages;
}

TEST(ChatTemplate, MatchesJinjaRendering) {
    const nlohmann::json golden = load_golden();
    const ChatTemplate chat = ChatTemplate::from_source(golden.at("template").get<std::string>());
    EXPECT_EQ(chat.default_system_prompt(), "You are a helpful AI assistant named SmolLM, trained by Hugging Face");

    const auto& cases = golden.at("cases");
    ASSERT_GE(cases.size(), 5u);
    for (size_t i = 0; i < cases.size(); ++i) {
        const bool add_generation_prompt = cases[i].at("add_generation_prompt").get<bool>();
        EXPECT_EQ(chat.format(messages_of(cases[i]), add_generation_prompt), cases[i].at("expected").get<std::string>())
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

TEST(ChatTemplate, ChatMlTurnPieces) {
    const ChatTemplate chat = ChatTemplate::from_source(load_golden().at("template").get<std::string>());
    EXPECT_EQ(chat.chat_format(), ChatFormat::chatml);
    EXPECT_EQ(chat.turn_start("user"), "<|im_start|>user\n");
    EXPECT_EQ(chat.turn_end(), "<|im_end|>\n");
}

TEST(ChatTemplate, Llama3MatchesJinjaRendering) {
    const nlohmann::json golden = load_golden("chat_template_llama3.json", "tools/chat_template_golden.py");
    const auto& templates = golden.at("templates");
    ASSERT_EQ(templates.size(), 2u);
    for (const auto& entry : templates) {
        const std::string name = entry.at("name").get<std::string>();
        const ChatTemplate chat = ChatTemplate::from_source(entry.at("template").get<std::string>());
        EXPECT_EQ(chat.chat_format(), ChatFormat::llama3) << name;
        EXPECT_EQ(chat.default_system_prompt(), entry.at("default_system_prompt").get<std::string>()) << name;

        const auto& cases = entry.at("cases");
        ASSERT_GE(cases.size(), 9u) << name;
        for (size_t i = 0; i < cases.size(); ++i) {
            const bool add_generation_prompt = cases[i].at("add_generation_prompt").get<bool>();
            EXPECT_EQ(chat.format(messages_of(cases[i]), add_generation_prompt),
                      cases[i].at("expected").get<std::string>())
                << name << " case " << i;
        }
    }
}

TEST(ChatTemplate, Llama3TurnPieces) {
    const ChatTemplate chat = ChatTemplate::from_source(
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}{{ '<|eot_id|>' }}");
    EXPECT_EQ(chat.chat_format(), ChatFormat::llama3);
    EXPECT_EQ(chat.turn_start("assistant"), "<|start_header_id|>assistant<|end_header_id|>\n\n");
    EXPECT_EQ(chat.turn_end(), "<|eot_id|>");
    EXPECT_EQ(chat.format({}, false), "");
    EXPECT_EQ(chat.format({}, true), "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama3SystemTurnOverSeveralLiterals) {
    // Llama 3.1 builds its dated system turn from several literals and
    // variables, so no single literal contains a whole default prompt.
    const ChatTemplate chat = ChatTemplate::from_source(
        "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{{- 'Today Date: ' + date_string + '\\n\\n' }}"
        "{{- system_message }}{{- '<|eot_id|>' }}");
    EXPECT_EQ(chat.chat_format(), ChatFormat::llama3);
    EXPECT_EQ(chat.default_system_prompt(), "");
}

TEST(ChatTemplate, ChatMlWinsWhenBothSyntaxesAppear) {
    const ChatTemplate chat = ChatTemplate::from_source(
        "{{ '<|im_start|>' + message['role'] }}{{ '<|im_end|>' }}{{ '<|start_header_id|><|end_header_id|>' }}");
    EXPECT_EQ(chat.chat_format(), ChatFormat::chatml);
}

TEST(ChatTemplate, OtherTemplateUsesChatMl) {
    const ChatTemplate chat = ChatTemplate::from_source(
        "{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}");
    EXPECT_TRUE(chat.has_template());
    EXPECT_EQ(chat.chat_format(), ChatFormat::chatml);
    EXPECT_EQ(chat.default_system_prompt(), "");
    EXPECT_EQ(chat.format({{"user", "Hi"}}, false), "<|im_start|>user\nHi<|im_end|>\n");
}

}  // namespace
}  // namespace compactor
