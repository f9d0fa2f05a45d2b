// compactor-test-libs: compactor_engine
// An Engine on a tiny synthetic model whose GGUF carries a Llama 3 vocabulary
// and chat template: the document prompt, every question and KVzip's
// repetition prompt use Llama 3 turns, and <|eot_id|> ends a turn.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "compactor/engine.h"
#include "engine/prompt_format.h"
#include "test_forward_model.h"

namespace compactor {
namespace {

constexpr int32_t kBeginOfText = 0;
constexpr int32_t kStartHeader = 2;
constexpr int32_t kEndHeader = 3;
constexpr int32_t kEotId = 4;

constexpr const char* kLlama3Template =
    "{%- for message in messages -%}{%- if loop.first %}{{ bos_token }}{% endif -%}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
    "'<|eot_id|>' -}}{%- endfor -%}"
    "{%- if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif -%}";

// Five control tokens, space and newline in the byte-level alphabet, letters
// and punctuation: 64 tokens, one per character, without merges.
std::vector<std::string> llama3_tokens() {
    std::vector<std::string> tokens = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                       "<|end_header_id|>", "<|eot_id|>",      "\xC4\xA0" /* Ġ, space */,
                                       "\xC4\x8A" /* Ċ, newline */};
    for (char c = 'a'; c <= 'z'; ++c) tokens.emplace_back(1, c);
    for (char c = 'A'; c <= 'Z'; ++c) tokens.emplace_back(1, c);
    for (const char* s : {",", ".", ":", "?", "!"}) tokens.emplace_back(s);
    return tokens;
}

// Document options that leave room in the tiny model's 256-token context.
DocumentOptions small_options() {
    DocumentOptions options;
    options.answer_reserve = 32;
    return options;
}

// Writes the model to a temp file that the fixture removes.
class EngineLlama3 : public ::testing::Test {
protected:
    void SetUp() override {
        const std::vector<std::string> tokens = llama3_tokens();
        test::TinySpec spec;
        spec.n_vocab = static_cast<int>(tokens.size());
        test::GgufWriter writer;
        test::build_tiny_model(spec, writer);

        std::vector<int32_t> types(tokens.size(), 1);
        std::fill(types.begin(), types.begin() + 5, 3);
        writer.add_string("tokenizer.ggml.model", "gpt2");
        writer.add_string("tokenizer.ggml.pre", "llama-bpe");
        writer.add_strings("tokenizer.ggml.tokens", tokens);
        writer.add_i32s("tokenizer.ggml.token_type", types);
        writer.add_strings("tokenizer.ggml.merges", {});
        writer.add_u32("tokenizer.ggml.bos_token_id", kBeginOfText);
        writer.add_u32("tokenizer.ggml.eos_token_id", 1);
        writer.add_bool("tokenizer.ggml.add_bos_token", true);
        writer.add_string("tokenizer.chat_template", kLlama3Template);
        path_ = writer.write_temp("compactor-llama3");
    }

    void TearDown() override { std::filesystem::remove(path_); }

    std::string path_;
};

TEST_F(EngineLlama3, DocumentPromptUsesLlama3Turns) {
    const Engine engine(path_, 1);
    ASSERT_EQ(engine.chat_template().chat_format(), ChatFormat::llama3);
    EXPECT_EQ(engine.chat_template().default_system_prompt(), "");
    EXPECT_EQ(engine.tokenizer().vocab().eot_id, kEotId);

    const DocumentSession session = engine.open_document("Alice met the Queen.", small_options());
    const std::vector<int32_t>& prompt = session.prompt_tokens();
    std::vector<int32_t> expected = {kBeginOfText, kStartHeader};
    for (const int32_t id : engine.tokenizer().encode("user", false)) expected.push_back(id);
    expected.push_back(kEndHeader);
    for (const int32_t id : engine.tokenizer().encode("\n\nAlice met the Queen.", false)) expected.push_back(id);
    EXPECT_EQ(prompt, expected);
    EXPECT_EQ(session.n_template_tokens(), 9);  // BOS, header start, four letters, header end, two newlines
}

TEST_F(EngineLlama3, AnswerFollowsLlama3QuestionSuffix) {
    const Engine engine(path_, 1);
    const DocumentSession session = engine.open_document("Alice met the Queen.", small_options());
    const std::vector<int32_t> suffix = encode_question_suffix(engine.tokenizer(), engine.chat_template(), "Whom?");
    const std::vector<int32_t> turn_change =
        engine.tokenizer().encode("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", true);
    ASSERT_EQ(turn_change.size(), 14u);  // eot, header start, nine letters, header end, two newlines
    EXPECT_EQ(turn_change[0], kEotId);
    ASSERT_GT(suffix.size(), turn_change.size());
    EXPECT_EQ(std::vector<int32_t>(suffix.end() - 14, suffix.end()), turn_change);
    EXPECT_EQ(std::count(suffix.begin(), suffix.end(), kEotId), 1);

    GenerationOptions options;
    options.max_tokens = 5;
    const Answer answer = session.answer("Whom?", options);
    EXPECT_EQ(answer.n_question_tokens, static_cast<int64_t>(suffix.size()));
    EXPECT_GE(answer.n_generated_tokens, 1);
    EXPECT_LE(answer.n_generated_tokens, 5);
}

TEST_F(EngineLlama3, KvzipRepetitionRunsWithLlama3Turns) {
    const Engine engine(path_, 1);
    DocumentOptions options = small_options();
    options.compression.method = "kvzip";
    options.compression.sink = 2;
    options.compression.recent = 2;
    DocumentSession session = engine.open_document("Alice met the Queen. The Queen said: Off with her head!", options);
    options.compression.ratio = 0.5;
    const CompressionReport report = session.compress(options.compression);
    EXPECT_TRUE(session.compressed());
    EXPECT_GT(report.second_pass_s, 0.0);
    EXPECT_LT(report.kept_fraction, 1.0);
}

}  // namespace
}  // namespace compactor
