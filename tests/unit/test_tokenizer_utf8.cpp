// compactor-test-libs: compactor_tokenizer
// UTF-8 repair, the byte-level alphabet and the streaming decoder.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace compactor {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

struct RepairCase {
    std::string input;
    std::string expected;
};

// Expected outputs are those of Python 3.11's bytes.decode("utf-8", errors="replace").
TEST(Utf8Repair, MaximalSubpartsBecomeOneReplacement) {
    const std::vector<RepairCase> cases = {
        {"plain ascii", "plain ascii"},
        {"caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80"},
        {"\xFF", kFffd},
        {"abc\x80" "def", "abc" + kFffd + "def"},
        {"\xC0\xAF", kFffd + kFffd},                          // overlong lead bytes are invalid alone
        {"\xE0\x80\x80", kFffd + kFffd + kFffd},              // E0 needs A0..BF next
        {"\xE0\xA0", kFffd},                                  // truncated: one subpart
        {"\xED\xA0\x80", kFffd + kFffd + kFffd},              // surrogate
        {"\xF0\x9F\x98", kFffd},                              // emoji cut short
        {"hi \xF0\x9F\x98 there", "hi " + kFffd + " there"},
        {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
        {"\xF5\x80", kFffd + kFffd},
        {"\xE2\x82\xAC\xE2", "\xE2\x82\xAC" + kFffd},
        {"\xC3\x28", kFffd + "("},
        {"\xE1\x80\xE1\x80", kFffd + kFffd},
        {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},            // U+10FFFF is valid
        {"\xED\x9F\xBF", "\xED\x9F\xBF"},                    // U+D7FF is valid
        {kFffd, kFffd},
    };
    for (const RepairCase& c : cases) {
        EXPECT_EQ(replace_invalid_utf8(c.input), c.expected) << "input bytes: " << testing::PrintToString(c.input);
    }
}

TEST(Utf8Repair, CharLength) {
    EXPECT_EQ(utf8_char_length("a", 0), 1u);
    EXPECT_EQ(utf8_char_length("\xC3\xA9", 0), 2u);
    EXPECT_EQ(utf8_char_length("\xE6\x97\xA5", 0), 3u);
    EXPECT_EQ(utf8_char_length("\xF0\x9F\x98\x80", 0), 4u);
    EXPECT_EQ(utf8_char_length("\xF0\x9F\x98", 0), 0u);
    EXPECT_EQ(utf8_char_length("\x80", 0), 0u);
    EXPECT_EQ(utf8_char_length("a", 1), 0u);
}

TEST(Utf8Repair, IncompleteTail) {
    EXPECT_EQ(incomplete_utf8_tail(""), 0u);
    EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
    EXPECT_EQ(incomplete_utf8_tail("a\xF0"), 1u);
    EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F"), 2u);
    EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F\x98"), 3u);
    EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F\x98\x80"), 0u);
    EXPECT_EQ(incomplete_utf8_tail("a\xC3"), 1u);
    // Bytes that can never complete a character are not held back.
    EXPECT_EQ(incomplete_utf8_tail("a\x80"), 0u);
    EXPECT_EQ(incomplete_utf8_tail("a\xFF"), 0u);
    EXPECT_EQ(incomplete_utf8_tail("a\xE0\x80"), 0u);
}

TEST(ByteLevel, KnownGpt2Characters) {
    EXPECT_EQ(bytes_to_byte_level(" "), "\xC4\xA0");              // Ġ
    EXPECT_EQ(bytes_to_byte_level("\n"), "\xC4\x8A");             // Ċ
    EXPECT_EQ(bytes_to_byte_level("a!~"), "a!~");
    EXPECT_EQ(bytes_to_byte_level("\xF0\x9F\x98\x80"), "\xC3\xB0\xC5\x81\xC4\xBA\xC4\xA2");  // ðŁĺĢ
    EXPECT_EQ(bytes_to_byte_level("\xAD"), "\xC5\x83");           // the last unprintable byte, U+0143
}

TEST(ByteLevel, RoundTripsEveryByte) {
    std::string all;
    for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
    EXPECT_EQ(byte_level_to_bytes(bytes_to_byte_level(all)), all);
    EXPECT_FALSE(byte_level_char_to_byte(0x144).has_value());
    EXPECT_FALSE(byte_level_char_to_byte(0x20).has_value());
    EXPECT_EQ(byte_level_char_to_byte(0x120), uint8_t{' '});
}

// A vocabulary whose tokens split a 4-byte emoji as 1 + 2 + 1 bytes.
Tokenizer split_emoji_tokenizer() {
    TokenizerVocab vocab;
    vocab.model = "gpt2";
    vocab.pre = "gpt2";
    vocab.tokens = {"a", bytes_to_byte_level("\xF0"), bytes_to_byte_level("\x9F\x98"), bytes_to_byte_level("\x80"),
                    bytes_to_byte_level("\xFF"), bytes_to_byte_level("b")};
    vocab.token_types.assign(vocab.tokens.size(), 1);
    return Tokenizer(std::move(vocab));
}

TEST(StreamDecoder, HoldsBackSplitEmoji) {
    Tokenizer tokenizer = split_emoji_tokenizer();
    StreamDecoder stream(tokenizer);
    EXPECT_EQ(stream.push(0), "a");
    EXPECT_EQ(stream.push(1), "");
    EXPECT_EQ(stream.push(2), "");
    EXPECT_EQ(stream.push(3), "\xF0\x9F\x98\x80");
    EXPECT_EQ(stream.push(5), "b");
    EXPECT_EQ(stream.flush(), "");
}

TEST(StreamDecoder, PiecesConcatenateToDecode) {
    Tokenizer tokenizer = split_emoji_tokenizer();
    const std::vector<int32_t> ids = {0, 1, 2, 3, 1, 2, 3, 5, 4, 0};
    StreamDecoder stream(tokenizer);
    std::string streamed;
    for (int32_t id : ids) {
        const std::string piece = stream.push(id);
        EXPECT_EQ(incomplete_utf8_tail(piece), 0u);
        streamed += piece;
    }
    streamed += stream.flush();
    EXPECT_EQ(streamed, tokenizer.decode(ids));
}

TEST(StreamDecoder, InvalidBytesPassThrough) {
    Tokenizer tokenizer = split_emoji_tokenizer();
    StreamDecoder stream(tokenizer);
    EXPECT_EQ(stream.push(4), "\xFF");
    // An unfinished character at the end comes out on flush.
    EXPECT_EQ(stream.push(1), "");
    EXPECT_EQ(stream.flush(), "\xF0");
    EXPECT_EQ(stream.flush(), "");
}

}  // namespace
}  // namespace compactor
