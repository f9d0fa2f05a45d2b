// compactor-test-libs: compactor_tokenizer
// Byte-level BPE on tiny hand-built vocabularies: merge order, special tokens,
// byte fallback, decoding and vocabulary errors.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace compactor {
namespace {

using Ids = std::vector<int32_t>;

constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kByte = 6;

// Ids: 0 <unk>, 1 <|im_start|>, 2 <|im_end|>, 3 <tool>, 4 <to, then the
// normal tokens below in order from 5.
const std::vector<std::string> kNormalTokens = {
    "a", "b", "c", "ab", "bc", "abc", "bb", "\xC4\xA0" /* Ġ, a space */, "\xC4\xA0" "a" /* Ġa */,
    "<", "|", "i", "m", "_", "s", "t", "r", ">",
};
constexpr int32_t kA = 5, kB = 6, kC = 7, kAB = 8, kBC = 9, kABC = 10, kBB = 11, kSpace = 12, kSpaceA = 13;

TokenizerVocab tiny_vocab(std::vector<std::string> merges) {
    TokenizerVocab vocab;
    vocab.model = "gpt2";
    vocab.pre = "gpt2";
    vocab.tokens = {"<unk>", "<|im_start|>", "<|im_end|>", "<tool>", "<to"};
    vocab.token_types = {kUnknown, kControl, kControl, kUserDefined, kUserDefined};
    for (const std::string& token : kNormalTokens) {
        vocab.tokens.push_back(token);
        vocab.token_types.push_back(kNormal);
    }
    vocab.merges = std::move(merges);
    vocab.unk_id = 0;
    vocab.bos_id = 1;
    vocab.eos_id = 2;
    return vocab;
}

int32_t add_token(TokenizerVocab& vocab, std::string text, int32_t type) {
    vocab.tokens.push_back(std::move(text));
    vocab.token_types.push_back(type);
    return static_cast<int32_t>(vocab.tokens.size() - 1);
}

TEST(TokenizerBpe, LowerRankMergesFirst) {
    Tokenizer bc_first(tiny_vocab({"b c", "a b", "ab c"}));
    EXPECT_EQ(bc_first.encode("abc"), (Ids{kA, kBC}));

    Tokenizer ab_first(tiny_vocab({"a b", "b c", "ab c"}));
    EXPECT_EQ(ab_first.encode("abc"), (Ids{kABC}));
}

TEST(TokenizerBpe, EqualRanksMergeLeftmostFirst) {
    Tokenizer tokenizer(tiny_vocab({"b b"}));
    EXPECT_EQ(tokenizer.encode("bbb"), (Ids{kBB, kB}));
    EXPECT_EQ(tokenizer.encode("bbbb"), (Ids{kBB, kBB}));
}

TEST(TokenizerBpe, WordsDoNotMergeAcrossPreTokens) {
    Tokenizer tokenizer(tiny_vocab({"\xC4\xA0 a", "a b"}));
    // GPT-2 splits "ab ab" into "ab" and " ab"; " a" outranks "ab" inside the second word.
    EXPECT_EQ(tokenizer.encode("ab ab"), (Ids{kAB, kSpaceA, kB}));

    Tokenizer ab_first(tiny_vocab({"a b", "\xC4\xA0 a"}));
    EXPECT_EQ(ab_first.encode("ab ab"), (Ids{kAB, kSpace, kAB}));
    EXPECT_EQ(tokenizer.encode("a  a"), (Ids{kA, kSpace, kSpaceA}));
}

TEST(TokenizerBpe, RepeatedWordsUseTheSameIds) {
    Tokenizer tokenizer(tiny_vocab({"a b", "ab c"}));
    const Ids first = tokenizer.encode("abc");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(tokenizer.encode("abc"), first);
    EXPECT_EQ(first, (Ids{kABC}));
}

TEST(TokenizerSpecial, ControlTokensSplitWithParseSpecial) {
    Tokenizer tokenizer(tiny_vocab({}));
    EXPECT_EQ(tokenizer.encode("a<|im_start|>b<|im_end|>", true), (Ids{kA, 1, kB, 2}));
    EXPECT_EQ(tokenizer.encode("<|im_start|><|im_end|>", true), (Ids{1, 2}));
}

TEST(TokenizerSpecial, ControlTokensArePlainTextWithoutParseSpecial) {
    Tokenizer tokenizer(tiny_vocab({}));
    const Ids ids = tokenizer.encode("a<|im_start|>", false);
    for (int32_t id : ids) EXPECT_NE(id, 1);
    EXPECT_EQ(tokenizer.decode(ids), "a<|im_start|>");
}

TEST(TokenizerSpecial, LongestUserDefinedTokenWins) {
    Tokenizer tokenizer(tiny_vocab({}));
    EXPECT_EQ(tokenizer.encode("<tool>a"), (Ids{3, kA}));
    EXPECT_EQ(tokenizer.encode("<toa"), (Ids{4, kA}));
    // User-defined tokens match even when special tokens are not parsed.
    EXPECT_EQ(tokenizer.encode("<tool>", false), (Ids{3}));
}

TEST(TokenizerSpecial, ControlTokensDecodeAsText) {
    Tokenizer tokenizer(tiny_vocab({}));
    EXPECT_TRUE(tokenizer.is_control(1));
    EXPECT_FALSE(tokenizer.is_control(kA));
    EXPECT_EQ(tokenizer.decode({1, kA, 2}), "<|im_start|>a<|im_end|>");
}

TEST(TokenizerFallback, UnknownCharacterUsesByteToken) {
    TokenizerVocab vocab = tiny_vocab({});
    const int32_t exclamation = add_token(vocab, "<0x21>", kByte);
    Tokenizer tokenizer(std::move(vocab));

    EXPECT_EQ(tokenizer.encode("a!"), (Ids{kA, exclamation}));
    EXPECT_EQ(tokenizer.token_bytes(exclamation), "!");
    EXPECT_EQ(tokenizer.decode(tokenizer.encode("a!")), "a!");
}

TEST(TokenizerFallback, ByteWithoutTokenGivesUnk) {
    Tokenizer tokenizer(tiny_vocab({}));
    EXPECT_EQ(tokenizer.encode("a?"), (Ids{kA, 0}));
    // A two-byte character with no token becomes one unknown id per byte.
    EXPECT_EQ(tokenizer.encode("\xC3\xA9"), (Ids{0, 0}));
}

TEST(TokenizerFallback, NoUnkTokenIsAnError) {
    TokenizerVocab vocab = tiny_vocab({});
    vocab.unk_id = -1;
    Tokenizer tokenizer(std::move(vocab));
    try {
        tokenizer.encode("?");
        FAIL() << "expected std::runtime_error";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("0x3F"), std::string::npos) << error.what();
    }
}

TEST(TokenizerDecode, ByteLevelTokensBecomeBytes) {
    TokenizerVocab vocab = tiny_vocab({});
    const int32_t newline = add_token(vocab, bytes_to_byte_level("\n"), kNormal);
    Tokenizer tokenizer(std::move(vocab));
    EXPECT_EQ(tokenizer.decode({kA, kSpace, kB, newline}), "a b\n");
    EXPECT_EQ(tokenizer.encode("a\n"), (Ids{kA, newline}));
    EXPECT_THROW(tokenizer.token_bytes(tokenizer.n_vocab()), std::out_of_range);
    EXPECT_THROW(tokenizer.token_bytes(-1), std::out_of_range);
}

TEST(TokenizerDecode, InvalidUtf8IsReplacedBeforeEncoding) {
    TokenizerVocab vocab = tiny_vocab({});
    const int32_t replacement = add_token(vocab, bytes_to_byte_level("\xEF\xBF\xBD"), kNormal);
    vocab.merges = {bytes_to_byte_level("\xEF") + " " + bytes_to_byte_level("\xBF"),
                    bytes_to_byte_level("\xEF\xBF") + " " + bytes_to_byte_level("\xBD")};
    add_token(vocab, bytes_to_byte_level("\xEF"), kNormal);
    add_token(vocab, bytes_to_byte_level("\xBF"), kNormal);
    add_token(vocab, bytes_to_byte_level("\xBD"), kNormal);
    add_token(vocab, bytes_to_byte_level("\xEF\xBF"), kNormal);
    Tokenizer tokenizer(std::move(vocab));

    // 0xFF is one invalid byte; E2 82 is a character cut short (one subpart).
    EXPECT_EQ(tokenizer.encode("a\xFF"), (Ids{kA, replacement}));
    EXPECT_EQ(tokenizer.encode("\xE2\x82" "a"), (Ids{replacement, kA}));
    EXPECT_EQ(tokenizer.encode("\xC0\xAF"), (Ids{replacement, replacement}));
}

TEST(TokenizerVocabErrors, CountsMustMatch) {
    TokenizerVocab vocab = tiny_vocab({});
    vocab.token_types.pop_back();
    try {
        Tokenizer tokenizer(std::move(vocab));
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("token types"), std::string::npos) << error.what();
    }
}

TEST(TokenizerVocabErrors, MalformedMergeNamesItsIndex) {
    try {
        Tokenizer tokenizer(tiny_vocab({"a b", "abc"}));
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("merge #1"), std::string::npos) << error.what();
    }
    EXPECT_THROW(Tokenizer(tiny_vocab({"a "})), std::invalid_argument);
    EXPECT_THROW(Tokenizer(tiny_vocab({" "})), std::invalid_argument);
}

TEST(TokenizerVocabErrors, MergeOfUnknownTokensIsRejected) {
    try {
        Tokenizer tokenizer(tiny_vocab({"a b", "c zz"}));
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("merge #1"), std::string::npos) << error.what();
    }
    // "c a" is well-formed but "ca" is not a token.
    EXPECT_THROW(Tokenizer(tiny_vocab({"c a"})), std::invalid_argument);
}

TEST(TokenizerVocabErrors, SpecialIdOutOfRange) {
    TokenizerVocab vocab = tiny_vocab({});
    vocab.eos_id = static_cast<int32_t>(vocab.tokens.size());
    try {
        Tokenizer tokenizer(std::move(vocab));
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("eos id"), std::string::npos) << error.what();
    }
}

TEST(TokenizerVocabErrors, BadTokenTypeOrModel) {
    TokenizerVocab bad_type = tiny_vocab({});
    bad_type.token_types[5] = 9;
    EXPECT_THROW(Tokenizer(std::move(bad_type)), std::invalid_argument);

    TokenizerVocab bad_model = tiny_vocab({});
    bad_model.model = "llama";
    EXPECT_THROW(Tokenizer(std::move(bad_model)), std::invalid_argument);

    TokenizerVocab empty = tiny_vocab({});
    empty.tokens.clear();
    empty.token_types.clear();
    EXPECT_THROW(Tokenizer(std::move(empty)), std::invalid_argument);
}

TEST(TokenizerVocabErrors, UnknownPreTokenizerListsSupported) {
    TokenizerVocab vocab = tiny_vocab({});
    vocab.pre = "mystery";
    try {
        Tokenizer tokenizer(std::move(vocab));
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("'mystery'"), std::string::npos) << message;
        EXPECT_NE(message.find("smollm"), std::string::npos) << message;
        EXPECT_NE(message.find("qwen2"), std::string::npos) << message;
        EXPECT_NE(message.find("llama-bpe"), std::string::npos) << message;
    }
}

}  // namespace
}  // namespace compactor
