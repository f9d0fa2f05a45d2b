// compactor-test-libs: compactor_engine
// generate_batch on the real model: answers from compressed copies of the
// bundled document equal DocumentSession::answer's, and bad requests are
// rejected before any cache changes.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compactor/engine.h"
#include "engine/batch_generate.h"
#include "engine/prompt_format.h"
#include "support/paths.h"

namespace compactor::test {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> read_lines(const std::string& path) {
    std::istringstream in(read_text(path));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
}

// The bundled document up to the last line break before max_bytes: about
// 1.4k tokens for 5,700 bytes, which keeps the test quick.
std::string document_prefix(size_t max_bytes) {
    const std::string document = read_text(std::string(COMPACTOR_SOURCE_DIR) + "/examples/document.txt");
    const size_t end = document.rfind('\n', max_bytes);
    return document.substr(0, end == std::string::npos ? max_bytes : end + 1);
}

// One engine per test process, because loading takes about a second. fp32
// weights, as `compactor eval` uses: with quantized weights a single
// sequence's decode step multiplies straight from the blocks while a batch
// dequantizes tiles for sgemm, so their sums round differently.
class BatchGenerate : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string model = real_model_path();
        if (std::filesystem::is_regular_file(model)) {
            engine_ = std::make_unique<Engine>(model, 0, WeightFormat::fp32);
        }
    }
    static void TearDownTestSuite() { engine_.reset(); }

    void SetUp() override {
        ASSERT_NE(engine_, nullptr) << "the real model is missing at " << real_model_path()
                                    << "; run scripts/fetch_model.sh (or set COMPACTOR_MODEL)";
    }

    static std::unique_ptr<Engine> engine_;
};

std::unique_ptr<Engine> BatchGenerate::engine_;

// A request per (session, question) on its own copy of the session's cache.
struct RequestSet {
    std::vector<KvCache> caches;
    std::vector<GenerationRequest> requests;
};

RequestSet make_requests(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                         const std::vector<DocumentSession>& sessions,
                         const std::vector<std::string>& questions, int64_t max_tokens) {
    RequestSet set;
    set.caches.reserve(sessions.size() * questions.size());
    for (const DocumentSession& session : sessions) {
        for (const std::string& question : questions) {
            set.caches.push_back(session.cache());
            set.requests.push_back(
                {&set.caches.back(), encode_question_suffix(tokenizer, chat_template, question), max_tokens});
        }
    }
    return set;
}

TEST_F(BatchGenerate, AnswersEqualSessionAnswers) {
    const Engine& engine = *engine_;
    const DocumentOptions options;
    const DocumentSession full = engine.open_document(document_prefix(5700), options);
    ASSERT_GT(full.n_context_tokens(), 1200);
    ASSERT_LT(full.n_context_tokens(), 1800);

    // Compressed copies of the one prefill, from none to 90% removed
    std::vector<DocumentSession> sessions;
    for (const double ratio : {0.0, 0.5, 0.9}) {
        DocumentSession copy = full;
        CompressionOptions compression = options.compression;
        compression.ratio = ratio;
        copy.compress(compression);
        sessions.push_back(copy);
    }
    EXPECT_LT(sessions[2].cache().total_rows(), sessions[1].cache().total_rows());

    const std::vector<std::string> questions =
        read_lines(std::string(COMPACTOR_SOURCE_DIR) + "/examples/questions.txt");
    ASSERT_EQ(questions.size(), 4u);
    GenerationOptions generation;
    generation.max_tokens = 32;
    std::vector<Answer> expected;
    for (const DocumentSession& session : sessions) {
        for (const std::string& question : questions) expected.push_back(session.answer(question, generation));
    }

    // All twelve in one batch, then in batches of 5, 5 and 2
    for (const int64_t max_batch : {12, 5}) {
        RequestSet set =
            make_requests(engine.tokenizer(), engine.chat_template(), sessions, questions, generation.max_tokens);
        const std::vector<Generation> generations =
            generate_batch(engine.model(), engine.tokenizer(), set.requests, max_batch);
        ASSERT_EQ(generations.size(), expected.size());

        for (size_t i = 0; i < generations.size(); ++i) {
            const Generation& g = generations[i];
            const Answer& a = expected[i];
            const std::string where = "max_batch " + std::to_string(max_batch) + ", session " +
                                      std::to_string(i / questions.size()) + ", question " +
                                      std::to_string(i % questions.size());
            EXPECT_EQ(g.text, a.text) << where;
            EXPECT_EQ(g.stop_reason, a.stop_reason) << where;
            EXPECT_EQ(static_cast<int64_t>(g.tokens.size()), a.n_generated_tokens) << where;
            EXPECT_EQ(g.n_prompt_tokens, a.n_question_tokens) << where;
            EXPECT_EQ(g.batch_size, max_batch == 12 ? 12 : (i < 10 ? 5 : 2)) << where;
            EXPECT_GT(g.prefill_s, 0.0) << where;
            EXPECT_GT(g.decode_s, 0.0) << where;

            // The cache grew by the prompt and every generated token but the
            // last, which ended generation without being run.
            const int64_t expected_pos = full.cache().next_pos() + a.n_question_tokens + a.n_generated_tokens - 1;
            EXPECT_EQ(set.caches[i].next_pos(), expected_pos) << where;
        }
    }
}

TEST_F(BatchGenerate, BadRequestsRejectedBeforeAnyWork) {
    const Model& model = engine_->model();
    const Tokenizer& tokenizer = engine_->tokenizer();
    const std::vector<int32_t> prompt =
        encode_question_suffix(tokenizer, engine_->chat_template(), "Who are you?");
    std::vector<KvCache> caches = {model.make_cache(), model.make_cache()};

    const auto error_of = [&](std::vector<GenerationRequest> requests, int64_t max_batch) -> std::string {
        try {
            generate_batch(model, tokenizer, requests, max_batch);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    const auto expect_error = [&](std::vector<GenerationRequest> requests, int64_t max_batch,
                                  const std::string& part) {
        const std::string message = error_of(std::move(requests), max_batch);
        EXPECT_NE(message.find(part), std::string::npos) << "message: '" << message << "', expected: " << part;
        EXPECT_EQ(caches[0].next_pos(), 0) << "a rejected batch ran request 0";
    };

    expect_error({{&caches[0], prompt, 8}, {nullptr, prompt, 8}}, 4, "request 1 has a null KV cache");
    expect_error({{&caches[0], prompt, 8}, {&caches[1], {}, 8}}, 4, "request 1 has an empty prompt");
    expect_error({{&caches[0], prompt, 8}, {&caches[1], prompt, 0}}, 4, "request 1 has max_tokens 0");
    expect_error({{&caches[0], prompt, 8}, {&caches[0], prompt, 8}}, 4, "requests 0 and 1 share one KV cache");
    expect_error({{&caches[0], prompt, 8}}, 0, "max_batch is 0");
    expect_error({{&caches[0], prompt, 8}, {&caches[1], {1, -5}, 8}}, 4, "request 1: token id -5 at index 1");

    const int64_t n_ctx = engine_->config().n_ctx_train;
    expect_error({{&caches[0], prompt, 8}, {&caches[1], prompt, n_ctx}}, 4, "exceeds the model's context");

    KvCache wrong(2, 1, 8);
    expect_error({{&caches[0], prompt, 8}, {&wrong, prompt, 8}}, 4, "request 1: the KV cache has 2 layers");
}

TEST_F(BatchGenerate, EmptyRequestListReturnsNothing) {
    std::vector<GenerationRequest> requests;
    EXPECT_TRUE(generate_batch(engine_->model(), engine_->tokenizer(), requests, 8).empty());
}

}  // namespace
}  // namespace compactor::test
