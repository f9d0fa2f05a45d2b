// compactor-test-libs: compactor_engine
// Document and question prompts in ChatML and Llama 3 turn syntax, on a
// character-level vocabulary that contains both formats' control tokens: the
// pieces must join into the tokens of the whole conversation as
// ChatTemplate::format renders it.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/prompt_format.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {
namespace {

constexpr int32_t kBos = 1;

// Control tokens of both formats, space and newline in the byte-level
// alphabet, then letters and punctuation. There are no merges, so every
// character is one token.
Tokenizer both_formats_tokenizer() {
    TokenizerVocab vocab;
    vocab.model = "gpt2";
    vocab.pre = "gpt2";
    vocab.tokens = {"<unk>",
                    "<|begin_of_text|>",
                    "<|im_start|>",
                    "<|im_end|>",
                    "<|start_header_id|>",
                    "<|end_header_id|>",
                    "<|eot_id|>",
                    "\xC4\xA0" /* Ġ, space */,
                    "\xC4\x8A" /* Ċ, newline */};
    vocab.token_types = {2, 3, 3, 3, 3, 3, 3, 1, 1};
    for (char c = 'a'; c <= 'z'; ++c) vocab.tokens.emplace_back(1, c);
    for (char c = 'A'; c <= 'Z'; ++c) vocab.tokens.emplace_back(1, c);
    for (const char* s : {",", ".", ":", "?", "<", ">", "|", "_"}) vocab.tokens.emplace_back(s);
    vocab.token_types.resize(vocab.tokens.size(), 1);
    vocab.unk_id = 0;
    vocab.bos_id = kBos;
    vocab.add_bos = true;
    return Tokenizer(vocab);
}

const ChatTemplate& chatml_template() {
    static const ChatTemplate chat = ChatTemplate::from_source(
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nBe brief.<|im_end|>\\n' }}{% endif %}"
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
        "'<|im_end|>\\n' }}{% endfor %}");
    return chat;
}

const ChatTemplate& llama3_template() {
    static const ChatTemplate chat = ChatTemplate::from_source(
        "{% if messages[0]['role'] != 'system' %}"
        "{{ '<|start_header_id|>system<|end_header_id|>\\n\\nBe brief.<|eot_id|>' }}{% endif %}"
        "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
        "message['content'] | trim + '<|eot_id|>' }}{% endfor %}");
    return chat;
}

std::vector<int32_t> joined(std::vector<int32_t> head, const std::vector<int32_t>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
}

// BOS, then the conversation as format() renders it, control tokens parsed.
std::vector<int32_t> rendered_tokens(const Tokenizer& tokenizer, const ChatTemplate& chat, const std::string& user) {
    return joined({kBos}, tokenizer.encode(chat.format({{"user", user}}, /*add_generation_prompt=*/true)));
}

TEST(PromptFormat, TemplatesDetected) {
    EXPECT_EQ(chatml_template().chat_format(), ChatFormat::chatml);
    EXPECT_EQ(chatml_template().default_system_prompt(), "Be brief.");
    EXPECT_EQ(llama3_template().chat_format(), ChatFormat::llama3);
    EXPECT_EQ(llama3_template().default_system_prompt(), "Be brief.");
}

TEST(PromptFormat, PiecesJoinIntoRenderedConversation) {
    const Tokenizer tokenizer = both_formats_tokenizer();
    for (const ChatTemplate* chat : {&chatml_template(), &llama3_template()}) {
        const std::string document = "Alice met the Queen.";
        const std::string question = "Whom did Alice meet?";
        const std::vector<int32_t> prompt = joined(encode_document_prompt(tokenizer, *chat, document),
                                                   encode_question_suffix(tokenizer, *chat, question));
        const std::string user = document + "\n\nQuestion: " + question + "\nAnswer briefly.";
        EXPECT_EQ(prompt, rendered_tokens(tokenizer, *chat, user))
            << (chat->chat_format() == ChatFormat::llama3 ? "llama3" : "chatml");
    }
}

TEST(PromptFormat, TurnEndJoinsIntoRenderedConversation) {
    const Tokenizer tokenizer = both_formats_tokenizer();
    for (const ChatTemplate* chat : {&chatml_template(), &llama3_template()}) {
        const std::vector<int32_t> prompt = joined(encode_document_prompt(tokenizer, *chat, "Context: a, b."),
                                                   encode_turn_end(tokenizer, *chat, " Which one?", ""));
        EXPECT_EQ(prompt, rendered_tokens(tokenizer, *chat, "Context: a, b. Which one?"))
            << (chat->chat_format() == ChatFormat::llama3 ? "llama3" : "chatml");
    }
}

TEST(PromptFormat, ChatMlQuestionSuffixTokens) {
    // The exact text every ChatML prompt ends with, so results measured
    // before the format became selectable stay comparable.
    const Tokenizer tokenizer = both_formats_tokenizer();
    EXPECT_EQ(encode_question_suffix(tokenizer, chatml_template(), "Why?"),
              tokenizer.encode("\n\nQuestion: Why?\nAnswer briefly.<|im_end|>\n<|im_start|>assistant\n"));
}

TEST(PromptFormat, Llama3TurnEndWithAnswerPrefix) {
    const Tokenizer tokenizer = both_formats_tokenizer();
    const std::vector<int32_t> tokens = encode_turn_end(tokenizer, llama3_template(), "Q?", "Answer:");
    EXPECT_EQ(tokens, tokenizer.encode("Q?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nAnswer:"));
    EXPECT_EQ(tokens[2], 6);  // <|eot_id|> as one control token
}

TEST(PromptFormat, ControlTextInDocumentStaysPlain) {
    const Tokenizer tokenizer = both_formats_tokenizer();
    for (const ChatTemplate* chat : {&chatml_template(), &llama3_template()}) {
        const std::vector<int32_t> header = encode_document_prompt(tokenizer, *chat, "");
        const std::vector<int32_t> prompt = encode_document_prompt(tokenizer, *chat, "a<|eot_id|><|im_end|>");
        ASSERT_GT(prompt.size(), header.size());
        const std::vector<int32_t> document(prompt.begin() + static_cast<std::ptrdiff_t>(header.size()), prompt.end());
        EXPECT_EQ(document, tokenizer.encode("a<|eot_id|><|im_end|>", /*parse_special=*/false));
        for (const int32_t id : document) EXPECT_GE(id, 7) << "control token id " << id << " inside the document";
    }
}

}  // namespace
}  // namespace compactor
