// compactor-test-libs: compactor_tokenizer nlohmann_json::nlohmann_json
// The SmolLM2 tokenizer read from the real GGUF against Hugging Face
// `tokenizers` ids (tests/golden/tokenizer_smollm2.jsonl, from
// tools/tokenizer_golden.py) and its chat template against jinja2 renderings.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "support/paths.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor {
namespace {

struct GoldenCase {
    std::string bytes;
    bool valid_utf8 = true;
    std::vector<int32_t> ids;
};

std::string decode_base64(const std::string& text) {
    static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        if (c == '=') break;
        const size_t value = kAlphabet.find(c);
        if (value == std::string::npos) throw std::runtime_error("invalid base64 character in golden file");
        buffer = (buffer << 6) | static_cast<uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    return out;
}

std::vector<GoldenCase> load_golden(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open golden file " + path + "; run tools/tokenizer_golden.py");

    std::vector<GoldenCase> cases;
    std::string line;
    while (std::getline(in, line)) {
        const auto record = nlohmann::json::parse(line);
        cases.push_back({decode_base64(record.at("text_b64").get<std::string>()), record.at("valid_utf8").get<bool>(),
                         record.at("ids").get<std::vector<int32_t>>()});
    }
    return cases;
}

std::string ids_to_string(const std::vector<int32_t>& ids, size_t limit = 40) {
    std::ostringstream out;
    out << "[";
    for (size_t i = 0; i < ids.size() && i < limit; ++i) out << (i ? ", " : "") << ids[i];
    if (ids.size() > limit) out << ", ... (" << ids.size() << " ids)";
    out << "]";
    return out.str();
}

class SmolLm2Tokenizer : public testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string path = test::real_model_path();
        if (!std::filesystem::exists(path)) return;
        file_ = gguf::GgufFile::open(path);
        tokenizer_ = std::make_unique<Tokenizer>(read_vocab(*file_));
    }

    static void TearDownTestSuite() {
        tokenizer_.reset();
        file_.reset();
    }

    void SetUp() override {
        ASSERT_NE(file_, nullptr) << "model not found at " << test::real_model_path()
                                  << "; fetch it with scripts/fetch_model.sh or set COMPACTOR_MODEL";
    }

    static inline std::unique_ptr<gguf::GgufFile> file_;
    static inline std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(SmolLm2Tokenizer, VocabMetadata) {
    const TokenizerVocab& vocab = tokenizer_->vocab();
    EXPECT_EQ(vocab.model, "gpt2");
    EXPECT_EQ(vocab.pre, "smollm");
    EXPECT_EQ(tokenizer_->n_vocab(), 49152);
    EXPECT_EQ(vocab.merges.size(), 48900u);
    EXPECT_EQ(vocab.bos_id, 1);
    EXPECT_EQ(vocab.eos_id, 2);
    EXPECT_EQ(vocab.eot_id, 2);
    EXPECT_EQ(vocab.unk_id, 0);
    EXPECT_EQ(vocab.pad_id, 2);
    EXPECT_FALSE(vocab.add_bos);
    EXPECT_EQ(tokenizer_->token_bytes(1), "<|im_start|>");
    EXPECT_TRUE(tokenizer_->is_control(2));
}

TEST_F(SmolLm2Tokenizer, IdsMatchHuggingFace) {
    const std::vector<GoldenCase> cases = load_golden(test::golden_path("tokenizer_smollm2.jsonl"));
    ASSERT_GE(cases.size(), 1000u);

    size_t mismatches = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const std::vector<int32_t> ids = tokenizer_->encode(cases[i].bytes);
        if (ids == cases[i].ids) continue;
        if (++mismatches <= 5) {
            ADD_FAILURE() << "case " << i << " text " << testing::PrintToString(cases[i].bytes.substr(0, 120))
                          << "\n  expected " << ids_to_string(cases[i].ids) << "\n  actual   " << ids_to_string(ids);
        }
    }
    EXPECT_EQ(mismatches, 0u) << mismatches << " of " << cases.size() << " strings tokenize differently";
}

TEST_F(SmolLm2Tokenizer, DecodeRoundTripsValidText) {
    const std::vector<GoldenCase> cases = load_golden(test::golden_path("tokenizer_smollm2.jsonl"));
    size_t failures = 0;
    size_t checked = 0;
    for (const GoldenCase& c : cases) {
        if (!c.valid_utf8) continue;
        ++checked;
        if (tokenizer_->decode(tokenizer_->encode(c.bytes)) == c.bytes) continue;
        if (++failures <= 5) ADD_FAILURE() << "no round trip for " << testing::PrintToString(c.bytes.substr(0, 120));
    }
    EXPECT_GT(checked, 900u);
    EXPECT_EQ(failures, 0u);
}

TEST_F(SmolLm2Tokenizer, InvalidUtf8DecodesToReplacement) {
    // 0xFF alone is invalid: it tokenizes as U+FFFD would.
    EXPECT_EQ(tokenizer_->encode("a\xFF" "b"), tokenizer_->encode("a\xEF\xBF\xBD" "b"));
    EXPECT_EQ(tokenizer_->decode(tokenizer_->encode("a\xFF" "b")), "a\xEF\xBF\xBD" "b");
}

TEST_F(SmolLm2Tokenizer, SpecialTokensOnlyWithParseSpecial) {
    const std::string text = "<|im_start|>user\nHi<|im_end|>";
    const std::vector<int32_t> parsed = tokenizer_->encode(text, true);
    ASSERT_FALSE(parsed.empty());
    EXPECT_EQ(parsed.front(), 1);
    EXPECT_EQ(parsed.back(), 2);

    const std::vector<int32_t> plain = tokenizer_->encode(text, false);
    for (int32_t id : plain) EXPECT_FALSE(tokenizer_->is_control(id)) << "control id " << id;
    EXPECT_EQ(tokenizer_->decode(plain), text);
}

TEST_F(SmolLm2Tokenizer, StreamingMatchesDecode) {
    const std::string text = "Emoji 👨‍👩‍👧‍👦 and 日本語, café, 🇯🇵!";
    const std::vector<int32_t> ids = tokenizer_->encode(text);
    StreamDecoder stream(*tokenizer_);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed, text);
}

TEST_F(SmolLm2Tokenizer, ConcurrentEncodeMatchesSerial) {
    const std::vector<GoldenCase> cases = load_golden(test::golden_path("tokenizer_smollm2.jsonl"));
    Tokenizer fresh(read_vocab(*file_));

    // Four threads encode the same strings at once through one shared word cache.
    std::vector<size_t> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < mismatches.size(); ++t) {
        threads.emplace_back([&, t] {
            for (const GoldenCase& c : cases) {
                if (fresh.encode(c.bytes) != c.ids) ++mismatches[t];
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    for (size_t t = 0; t < mismatches.size(); ++t) EXPECT_EQ(mismatches[t], 0u) << "thread " << t;
}

TEST_F(SmolLm2Tokenizer, ChatTemplateFromGguf) {
    const ChatTemplate chat = ChatTemplate::from_gguf(*file_);
    EXPECT_TRUE(chat.has_template());
    EXPECT_EQ(chat.default_system_prompt(), "You are a helpful AI assistant named SmolLM, trained by Hugging Face");

    std::ifstream in(test::golden_path("chat_template.json"));
    ASSERT_TRUE(in) << "missing golden chat_template.json; run tools/tokenizer_golden.py";
    const auto golden = nlohmann::json::parse(in);
    for (const auto& c : golden.at("cases")) {
        std::vector<ChatMessage> messages;
        for (const auto& m : c.at("messages")) messages.push_back({m.at("role"), m.at("content")});
        EXPECT_EQ(chat.format(messages, c.at("add_generation_prompt").get<bool>()), c.at("expected").get<std::string>());
    }
}

}  // namespace
}  // namespace compactor
