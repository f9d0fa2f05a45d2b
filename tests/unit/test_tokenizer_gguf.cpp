// compactor-test-libs: compactor_tokenizer
// read_vocab and ChatTemplate::from_gguf on small GGUF files written by the
// test GGUF writer.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/gguf_writer.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {
namespace {

using test::GgufWriter;

// A GGUF image kept alive together with the file parsed from it.
struct ParsedGguf {
    std::vector<uint8_t> bytes;
    std::unique_ptr<gguf::GgufFile> file;
};

ParsedGguf parse(const GgufWriter& writer) {
    ParsedGguf parsed;
    parsed.bytes = writer.to_bytes();
    parsed.file = gguf::GgufFile::from_memory(parsed.bytes.data(), parsed.bytes.size());
    return parsed;
}

struct VocabSpec {
    std::string model = "gpt2";
    std::string pre = "gpt2";
    std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "ab"};
    std::vector<int32_t> types = {3, 3, 3, 1, 1, 1};
    std::vector<std::string> merges = {"a b"};
};

GgufWriter vocab_writer(const VocabSpec& spec) {
    GgufWriter writer;
    writer.add_string("general.architecture", "llama");
    writer.add_string("tokenizer.ggml.model", spec.model);
    if (!spec.pre.empty()) writer.add_string("tokenizer.ggml.pre", spec.pre);
    writer.add_strings("tokenizer.ggml.tokens", spec.tokens);
    writer.add_i32s("tokenizer.ggml.token_type", spec.types);
    writer.add_strings("tokenizer.ggml.merges", spec.merges);
    return writer;
}

template <typename Error>
std::string error_of(const GgufWriter& writer) {
    const ParsedGguf parsed = parse(writer);
    try {
        read_vocab(*parsed.file);
    } catch (const Error& error) {
        return error.what();
    }
    ADD_FAILURE() << "read_vocab did not throw";
    return "";
}

TEST(ReadVocab, ReadsTokenizerKeys) {
    GgufWriter writer = vocab_writer({});
    writer.add_u32("tokenizer.ggml.bos_token_id", 1);
    writer.add_u32("tokenizer.ggml.eos_token_id", 2);
    writer.add_u32("tokenizer.ggml.unknown_token_id", 0);
    writer.add_u32("tokenizer.ggml.padding_token_id", 2);
    writer.add_bool("tokenizer.ggml.add_bos_token", true);
    const ParsedGguf parsed = parse(writer);

    const TokenizerVocab vocab = read_vocab(*parsed.file);
    EXPECT_EQ(vocab.model, "gpt2");
    EXPECT_EQ(vocab.pre, "gpt2");
    EXPECT_EQ(vocab.tokens.size(), 6u);
    EXPECT_EQ(vocab.tokens[5], "ab");
    EXPECT_EQ(vocab.token_types, (std::vector<int32_t>{3, 3, 3, 1, 1, 1}));
    EXPECT_EQ(vocab.merges, (std::vector<std::string>{"a b"}));
    EXPECT_EQ(vocab.bos_id, 1);
    EXPECT_EQ(vocab.eos_id, 2);
    EXPECT_EQ(vocab.unk_id, 0);
    EXPECT_EQ(vocab.pad_id, 2);
    EXPECT_TRUE(vocab.add_bos);

    Tokenizer tokenizer(vocab);
    EXPECT_EQ(tokenizer.encode("ab<|im_end|>"), (std::vector<int32_t>{5, 2}));
}

TEST(ReadVocab, MissingIdsAreMinusOne) {
    VocabSpec spec;
    spec.tokens = {"a", "b", "ab"};
    spec.types = {1, 1, 1};
    const ParsedGguf parsed = parse(vocab_writer(spec));
    const TokenizerVocab vocab = read_vocab(*parsed.file);
    EXPECT_EQ(vocab.bos_id, -1);
    EXPECT_EQ(vocab.eos_id, -1);
    EXPECT_EQ(vocab.eot_id, -1);
    EXPECT_EQ(vocab.unk_id, -1);
    EXPECT_EQ(vocab.pad_id, -1);
    EXPECT_FALSE(vocab.add_bos);
}

TEST(ReadVocab, EndOfTurnResolution) {
    // <|im_end|> when no key names the end of turn.
    {
        const ParsedGguf parsed = parse(vocab_writer({}));
        EXPECT_EQ(read_vocab(*parsed.file).eot_id, 2);
    }
    // The explicit key wins.
    {
        GgufWriter writer = vocab_writer({});
        writer.add_u32("tokenizer.ggml.eot_token_id", 0);
        const ParsedGguf parsed = parse(writer);
        EXPECT_EQ(read_vocab(*parsed.file).eot_id, 0);
    }
    // Llama 3's <|eot_id|>.
    {
        VocabSpec spec;
        spec.tokens = {"<|begin_of_text|>", "<|eot_id|>", "a", "b", "ab"};
        spec.types = {3, 3, 1, 1, 1};
        const ParsedGguf parsed = parse(vocab_writer(spec));
        EXPECT_EQ(read_vocab(*parsed.file).eot_id, 1);
    }
}

TEST(ReadVocab, MissingPreMeansDefault) {
    VocabSpec spec;
    spec.pre = "";
    const ParsedGguf parsed = parse(vocab_writer(spec));
    EXPECT_EQ(read_vocab(*parsed.file).pre, "default");
}

TEST(ReadVocab, UnsupportedModelIsRejected) {
    VocabSpec spec;
    spec.model = "llama";
    const std::string message = error_of<std::runtime_error>(vocab_writer(spec));
    EXPECT_NE(message.find("'llama'"), std::string::npos) << message;
}

TEST(ReadVocab, UnknownPreIsRejected) {
    VocabSpec spec;
    spec.pre = "falcon";
    const std::string message = error_of<gguf::GgufError>(vocab_writer(spec));
    EXPECT_NE(message.find("'falcon'"), std::string::npos) << message;
    EXPECT_NE(message.find("smollm"), std::string::npos) << message;
}

TEST(ReadVocab, TypeCountMismatchIsRejected) {
    VocabSpec spec;
    spec.types = {3, 3, 3, 1, 1};
    const std::string message = error_of<gguf::GgufError>(vocab_writer(spec));
    EXPECT_NE(message.find("5 token types for 6 tokens"), std::string::npos) << message;
}

TEST(ReadVocab, MalformedMergeNamesIndex) {
    VocabSpec spec;
    spec.merges = {"a b", "ab"};
    const std::string message = error_of<gguf::GgufError>(vocab_writer(spec));
    EXPECT_NE(message.find("merge #1"), std::string::npos) << message;
}

TEST(ReadVocab, IdOutOfRangeIsRejected) {
    GgufWriter writer = vocab_writer({});
    writer.add_u32("tokenizer.ggml.bos_token_id", 6);
    const std::string message = error_of<gguf::GgufError>(writer);
    EXPECT_NE(message.find("bos id is 6"), std::string::npos) << message;
}

TEST(ReadVocab, MissingTokensKeyIsNamed) {
    GgufWriter writer;
    writer.add_string("tokenizer.ggml.model", "gpt2");
    writer.add_string("tokenizer.ggml.pre", "gpt2");
    const std::string message = error_of<gguf::GgufError>(writer);
    EXPECT_NE(message.find("tokenizer.ggml.tokens"), std::string::npos) << message;
}

TEST(ChatTemplateGguf, ReadsTemplateKey) {
    GgufWriter writer = vocab_writer({});
    writer.add_string("tokenizer.chat_template",
                      "{{ '<|im_start|>system\\nBe brief.<|im_end|>\\n' }}{{ '<|im_start|>' }}{{ '<|im_end|>' }}");
    const ParsedGguf parsed = parse(writer);
    const ChatTemplate chat = ChatTemplate::from_gguf(*parsed.file);
    EXPECT_TRUE(chat.has_template());
    EXPECT_EQ(chat.default_system_prompt(), "Be brief.");
}

TEST(ChatTemplateGguf, MissingKeyGivesPlainChatMl) {
    const ParsedGguf parsed = parse(vocab_writer({}));
    const ChatTemplate chat = ChatTemplate::from_gguf(*parsed.file);
    EXPECT_FALSE(chat.has_template());
    EXPECT_EQ(chat.default_system_prompt(), "");
    EXPECT_EQ(chat.format({{"user", "Hi"}}, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace compactor
