// compactor-test-libs: compactor_tokenizer nlohmann_json::nlohmann_json
// Pre-tokenizer splits against Hugging Face's pre-tokenizers
// (tests/golden/tokenizer_pretokenize.json, from tools/tokenizer_golden.py).
#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"

namespace compactor {
namespace {

using Words = std::vector<std::string>;

Words split_words(const PreTokenizer& pre, std::string_view text) {
    Words words;
    for (std::string_view word : pre.split(text)) words.emplace_back(word);
    return words;
}

TEST(PreTokenizer, SmollmSplitsEachDigit) {
    PreTokenizer pre("smollm");
    EXPECT_EQ(split_words(pre, "abc 123"), (Words{"abc", " ", "1", "2", "3"}));
    EXPECT_EQ(split_words(pre, "x1.5y"), (Words{"x", "1", ".", "5", "y"}));
    // The digit split comes first, so the whitespace before a digit ends its word.
    EXPECT_EQ(split_words(pre, ".\n\n1"), (Words{".", "\n\n", "1"}));
}

TEST(PreTokenizer, Gpt2Words) {
    PreTokenizer pre("gpt2");
    EXPECT_EQ(split_words(pre, "Hello world, it's 2024!"),
              (Words{"Hello", " world", ",", " it", "'s", " 2024", "!"}));
    EXPECT_EQ(split_words(pre, "a   b"), (Words{"a", "  ", " b"}));
    EXPECT_EQ(split_words(pre, ".\n\n1"), (Words{".", "\n", "\n", "1"}));
    EXPECT_TRUE(pre.split("").empty());
}

TEST(PreTokenizer, Llama3GroupsDigitsByThree) {
    PreTokenizer pre("llama-bpe");
    EXPECT_EQ(split_words(pre, "1234567"), (Words{"123", "456", "7"}));
    EXPECT_EQ(split_words(pre, "I'M ok"), (Words{"I", "'M", " ok"}));
}

TEST(PreTokenizer, Qwen2SplitsEachDigit) {
    PreTokenizer pre("qwen2");
    EXPECT_EQ(split_words(pre, "x 42"), (Words{"x", " ", "4", "2"}));
}

TEST(PreTokenizer, UnknownNameIsRejected) {
    try {
        PreTokenizer pre("falcon");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("'falcon'"), std::string::npos) << message;
        EXPECT_NE(message.find("smollm"), std::string::npos) << message;
    }
}

TEST(PreTokenizer, MatchesHuggingFace) {
    std::ifstream in(test::golden_path("tokenizer_pretokenize.json"));
    ASSERT_TRUE(in) << "missing golden tokenizer_pretokenize.json; run tools/tokenizer_golden.py";
    const auto golden = nlohmann::json::parse(in);
    const auto texts = golden.at("texts").get<std::vector<std::string>>();
    ASSERT_GE(texts.size(), 200u);

    for (const auto& [name, expected_words] : golden.at("words").items()) {
        PreTokenizer pre(name);
        size_t mismatches = 0;
        for (size_t i = 0; i < texts.size(); ++i) {
            Words actual;
            for (std::string_view word : pre.split(texts[i])) actual.push_back(bytes_to_byte_level(word));
            const auto expected = expected_words.at(i).get<Words>();
            if (actual == expected) continue;
            if (++mismatches <= 3) {
                ADD_FAILURE() << name << " splits " << testing::PrintToString(texts[i]) << "\n  expected "
                              << testing::PrintToString(expected) << "\n  actual   " << testing::PrintToString(actual);
            }
        }
        EXPECT_EQ(mismatches, 0u) << name << ": " << mismatches << " of " << texts.size() << " strings differ";
    }
}

}  // namespace
}  // namespace compactor
