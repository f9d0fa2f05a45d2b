// compactor-test-libs: compactor_engine
// The C++ API on the real model with a short document: prompt layout, session
// copies, compression, answers that leave the cache unchanged, and errors.
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compactor/engine.h"
#include "support/paths.h"

namespace compactor::test {
namespace {

constexpr const char* kDocument =
    "The lighthouse on Tern Island was painted red in 1911 by a keeper named Agnes Moreau. "
    "It stands forty metres tall, and its lamp can be seen from twenty-two nautical miles away on a clear "
    "night. The keeper's cottage beside it has a slate roof and a garden of rosemary and thyme. Supply boats "
    "reach the island every second Tuesday when the sea allows, bringing oil, flour and letters.\n";

// One engine per test process (ctest starts one per test; a direct run of
// this binary shares it), because loading takes about a second.
class EngineSession : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string model = real_model_path();
        if (std::filesystem::is_regular_file(model)) engine_ = std::make_unique<Engine>(model, 0);
    }
    static void TearDownTestSuite() { engine_.reset(); }

    void SetUp() override {
        ASSERT_NE(engine_, nullptr) << "the real model is missing at " << real_model_path()
                                    << "; run scripts/fetch_model.sh (or set COMPACTOR_MODEL)";
    }

    static DocumentOptions small_document_options() {
        DocumentOptions options;
        options.compression.sink = 4;
        options.compression.recent = 4;
        options.compression.attn_chunk = 32;
        options.prefill_chunk = 16;  // several chunks, so progress is reported more than once
        return options;
    }

    static std::unique_ptr<Engine> engine_;
};

std::unique_ptr<Engine> EngineSession::engine_;

TEST_F(EngineSession, PromptHasSystemTurnAndUserHeader) {
    const Engine& engine = *engine_;
    const std::string expected_prompt = "<|im_start|>system\n" + engine.chat_template().default_system_prompt() +
                                        "<|im_end|>\n<|im_start|>user\n";
    const auto n_header = static_cast<int64_t>(engine.tokenizer().encode(expected_prompt, true).size());
    const auto n_document = static_cast<int64_t>(engine.tokenizer().encode(kDocument, false).size());
    EXPECT_FALSE(engine.chat_template().default_system_prompt().empty());

    const DocumentSession session = engine.open_document(kDocument, small_document_options());
    EXPECT_EQ(session.n_context_tokens(), n_header + n_document);
    EXPECT_EQ(session.cache().next_pos(), session.n_context_tokens());
    EXPECT_EQ(session.cache().max_length(), session.n_context_tokens());
    EXPECT_GT(session.prefill_s(), 0.0);
}

TEST_F(EngineSession, ProgressReportedPerChunk) {
    DocumentOptions options = small_document_options();
    int64_t n_calls = 0;
    int64_t last_done = 0;
    int64_t total = 0;
    options.on_progress = [&](const PrefillProgress& progress) {
        ++n_calls;
        EXPECT_GT(progress.n_done, last_done);
        last_done = progress.n_done;
        total = progress.n_total;
    };
    const DocumentSession session = engine_->open_document(kDocument, options);

    EXPECT_EQ(total, session.n_context_tokens());
    EXPECT_EQ(last_done, total);
    EXPECT_EQ(n_calls, (total + options.prefill_chunk - 1) / options.prefill_chunk);
}

TEST_F(EngineSession, CopyCompressesIndependently) {
    const DocumentOptions options = small_document_options();
    const DocumentSession full = engine_->open_document(kDocument, options);
    DocumentSession compressed = full;

    CompressionOptions compression = options.compression;
    compression.ratio = 0.5;
    const CompressionReport report = compressed.compress(compression);

    EXPECT_EQ(full.cache().total_rows(), report.rows_before);
    EXPECT_EQ(compressed.cache().total_rows(), report.rows_after);
    EXPECT_NEAR(report.kept_fraction, 0.5, 0.02);
    EXPECT_LT(compressed.cache().size_bytes(), full.cache().size_bytes());
    EXPECT_EQ(compressed.cache().next_pos(), full.cache().next_pos());
    EXPECT_TRUE(compressed.compressed());
    EXPECT_FALSE(full.compressed());
    EXPECT_GT(report.score_s, 0.0);

    // A second copy of the full session reuses the scores at another ratio.
    DocumentSession lighter = full;
    compression.ratio = 0.25;
    const CompressionReport lighter_report = lighter.compress(compression);
    EXPECT_NEAR(lighter_report.kept_fraction, 0.75, 0.02);
    EXPECT_DOUBLE_EQ(lighter_report.score_s, report.score_s);
}

TEST_F(EngineSession, CompressTwiceRejected) {
    const DocumentOptions options = small_document_options();
    DocumentSession session = engine_->open_document(kDocument, options);
    session.compress(options.compression);
    EXPECT_THROW(session.compress(options.compression), std::logic_error);
}

TEST_F(EngineSession, ScorerOptionMismatchRejected) {
    const DocumentOptions options = small_document_options();
    DocumentSession session = engine_->open_document(kDocument, options);
    CompressionOptions other = options.compression;
    other.sketch_dim = options.compression.sketch_dim + 1;
    try {
        session.compress(other);
        FAIL() << "compress accepted a sketch_dim the scorer did not use";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("sketch_dim"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(session.compressed());
}

TEST_F(EngineSession, AnswerLeavesCacheUnchanged) {
    const DocumentSession session = engine_->open_document(kDocument, small_document_options());
    const int64_t rows = session.cache().total_rows();
    const int64_t next_pos = session.cache().next_pos();

    const GenerationOptions generation{8, SamplingOptions{}};
    const Answer first = session.answer("What colour is the lighthouse?", generation);
    const Answer again = session.answer("What colour is the lighthouse?", generation);

    EXPECT_EQ(session.cache().total_rows(), rows);
    EXPECT_EQ(session.cache().next_pos(), next_pos);
    EXPECT_FALSE(first.text.empty());
    EXPECT_EQ(first.text, again.text);
    EXPECT_GT(first.n_question_tokens, 0);
    EXPECT_GE(first.n_generated_tokens, 1);
    EXPECT_LE(first.n_generated_tokens, 8);
    if (first.stop_reason == StopReason::max_tokens) {
        EXPECT_EQ(first.n_generated_tokens, 8);
    }
}

// One call for several budgets must choose exactly what separate calls
// choose: the candidates it shares are the same measurements.
TEST_F(EngineSession, OnlineBudgetsMatchSeparateCalls) {
    const DocumentOptions options = small_document_options();
    const DocumentSession session =
        engine_->open_document(std::string(kDocument) + kDocument + kDocument, options);
    const int64_t rows = session.cache().total_rows();
    const int64_t next_pos = session.cache().next_pos();

    OnlineCalibrationOptions probes;
    probes.n_probes = 3;
    const std::vector<double> taus{0.9, 0.99, 1.0, 0.95};
    const std::vector<OnlineCalibration> together = session.calibrate_online(options.compression, taus, probes);
    ASSERT_EQ(together.size(), taus.size());

    for (size_t i = 0; i < taus.size(); ++i) {
        SCOPED_TRACE("tau " + std::to_string(taus[i]));
        const OnlineCalibration alone = session.calibrate_online(options.compression, taus[i], probes);
        const OnlineCalibration& shared = together[i];
        EXPECT_DOUBLE_EQ(shared.tau, taus[i]);
        EXPECT_DOUBLE_EQ(shared.kept_fraction, alone.kept_fraction);
        EXPECT_DOUBLE_EQ(shared.ratio, 1.0 - shared.kept_fraction);
        EXPECT_DOUBLE_EQ(shared.probe_nll_full, alone.probe_nll_full);
        EXPECT_EQ(shared.n_probe_tokens, alone.n_probe_tokens);
        ASSERT_EQ(shared.candidates.size(), alone.candidates.size());
        double candidate_s = 0;
        for (size_t c = 0; c < alone.candidates.size(); ++c) {
            EXPECT_DOUBLE_EQ(shared.candidates[c].kept_fraction, alone.candidates[c].kept_fraction);
            EXPECT_DOUBLE_EQ(shared.candidates[c].probe_nll, alone.candidates[c].probe_nll);
            EXPECT_DOUBLE_EQ(shared.candidates[c].quality_ratio, alone.candidates[c].quality_ratio);
            candidate_s += shared.candidates[c].seconds;
        }
        if (taus[i] < 1.0) {
            EXPECT_EQ(shared.n_probes, 3);
            EXPECT_GT(shared.probe_nll_full, 0.0);
            EXPECT_FALSE(shared.candidates.empty());
            EXPECT_GT(shared.seconds, candidate_s);
        } else {
            EXPECT_DOUBLE_EQ(shared.kept_fraction, 1.0);
            EXPECT_TRUE(shared.candidates.empty());
        }
    }
    EXPECT_EQ(session.cache().total_rows(), rows);
    EXPECT_EQ(session.cache().next_pos(), next_pos);
}

TEST_F(EngineSession, EmptyDocumentRejected) {
    EXPECT_THROW(engine_->open_document("", small_document_options()), std::invalid_argument);
    EXPECT_THROW(engine_->open_document(" \n\t ", small_document_options()), std::invalid_argument);
}

TEST_F(EngineSession, LongDocumentRejectedWithLimit) {
    std::string text;
    for (int i = 0; i < 1000; ++i) text += "The supply boat brought oil, flour and letters to the island. ";
    try {
        engine_->open_document(text, small_document_options());
        FAIL() << "a document longer than the context was accepted";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find(std::to_string(engine_->config().n_ctx_train)), std::string::npos) << message;
        EXPECT_NE(message.find("shorten the document"), std::string::npos) << message;
    }
}

TEST_F(EngineSession, AnswerBeyondContextRejected) {
    const DocumentSession session = engine_->open_document(kDocument, small_document_options());
    const GenerationOptions too_long{engine_->config().n_ctx_train, SamplingOptions{}};
    EXPECT_THROW(session.answer("Why?", too_long), std::invalid_argument);
    EXPECT_THROW(session.answer("Why?", GenerationOptions{0, SamplingOptions{}}), std::invalid_argument);
}

}  // namespace
}  // namespace compactor::test
