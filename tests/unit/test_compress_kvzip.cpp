// compactor-test-libs: compactor_engine
// The kvzip scorer and its second pass on a tiny synthetic model: scores
// against a naive attention over the recorded repetition queries, their
// range and determinism, run_second_pass with a tiny tokenizer (one
// sequence and pieces), and the misuse errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compressor.h"
#include "compress/kvzip_scorer.h"
#include "engine/second_pass.h"
#include "model/prefill_observer.h"
#include "test_forward_model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::test {
namespace {

CompressionOptions kvzip_options() {
    CompressionOptions o;
    o.method = "kvzip";
    o.sink = 2;
    o.recent = 2;
    return o;
}

// A character-level ChatML vocabulary of 64 tokens: <unk>, <|im_start|>,
// <|im_end|>, space and newline in the byte-level alphabet, then letters,
// punctuation and digits. There are no merges, so every character is one token.
Tokenizer tiny_tokenizer() {
    TokenizerVocab vocab;
    vocab.model = "gpt2";
    vocab.pre = "gpt2";
    vocab.tokens = {"<unk>", "<|im_start|>", "<|im_end|>", "\xC4\xA0" /* Ġ, space */, "\xC4\x8A" /* Ċ, newline */};
    vocab.token_types = {2, 3, 3, 1, 1};
    for (char c = 'a'; c <= 'z'; ++c) vocab.tokens.emplace_back(1, c);
    for (char c = 'A'; c <= 'Z'; ++c) vocab.tokens.emplace_back(1, c);
    for (const char* s : {",", ".", ":", "0", "1", "2", "3"}) vocab.tokens.emplace_back(s);
    vocab.token_types.resize(vocab.tokens.size(), 1);
    vocab.unk_id = 0;
    vocab.eos_id = 2;
    vocab.eot_id = 2;
    return Tokenizer(vocab);
}

std::unique_ptr<Model> tiny_model() {
    TinySpec spec;
    spec.n_vocab = 64;
    GgufWriter writer;
    build_tiny_model(spec, writer);
    return load_from_writer(writer);
}

ModelShape shape_of(const Model& model) { return model_shape(model.config()); }

// Prefill `tokens` into a fresh cache with `scorer` observing.
KvCache prefill(const Model& model, const std::vector<int32_t>& tokens, Scorer& scorer, int64_t chunk) {
    KvCache cache = model.make_cache();
    model.forward(tokens, cache, ForwardOptions{chunk, &scorer, false}, nullptr);
    return cache;
}

// Records the post-RoPE queries of every layer, in token order.
class QueryRecorder : public PrefillObserver {
public:
    explicit QueryRecorder(int n_layer) : queries(static_cast<size_t>(n_layer)) {}
    void observe(const LayerChunk& c) override {
        const size_t width = static_cast<size_t>(c.n_head) * static_cast<size_t>(c.head_dim);
        std::vector<float>& q = queries[static_cast<size_t>(c.il)];
        q.insert(q.end(), c.q_rope, c.q_rope + static_cast<size_t>(c.n_tokens) * width);
    }
    std::vector<std::vector<float>> queries;  // [n_layer][n_tokens × n_head × head_dim]
};

// Prefill `context`, then run `repetition` by hand on a copy with the
// scorer's second-pass observer and `extra` (may be null) observing.
struct ManualRun {
    KvCache cache;
    KvCache copy;
    ScoreSet scores;
};
ManualRun run_by_hand(const Model& model, KvzipScorer& scorer, const std::vector<int32_t>& context,
                      const std::vector<int32_t>& repetition, int64_t repetition_chunk, PrefillObserver* extra) {
    ManualRun run;
    run.cache = prefill(model, context, scorer, 16);
    run.copy = run.cache;
    ObserverFanout fanout;
    fanout.add(scorer.begin_second_pass(run.copy, static_cast<int64_t>(context.size())));
    fanout.add(extra);
    model.forward(repetition, run.copy, ForwardOptions{repetition_chunk, &fanout, false}, nullptr);
    run.scores = scorer.finalize(run.cache);
    return run;
}

TEST(Kvzip, ScoresEqualNaiveMaxAttention) {
    const std::unique_ptr<Model> model = tiny_model();
    const ModelShape shape = shape_of(*model);
    const std::vector<int32_t> context = sample_tokens(40, 64, 1);
    const std::vector<int32_t> repetition = sample_tokens(100, 64, 2);  // one chunk of two query tiles

    KvzipScorer scorer(kvzip_options(), shape);
    QueryRecorder recorder(shape.n_layer);
    const ManualRun run = run_by_hand(*model, scorer, context, repetition, 512, &recorder);
    ASSERT_EQ(run.scores.n_tokens, 40);

    const int d = shape.head_dim;
    const int group = shape.n_head / shape.n_head_kv;
    const int64_t n_ctx = 40;
    for (int il = 0; il < shape.n_layer; ++il) {
        for (int h = 0; h < shape.n_head_kv; ++h) {
            const std::span<const float> keys = run.copy.keys(il, h);  // context then repetition rows
            std::vector<double> expected(static_cast<size_t>(n_ctx), 0.0);
            for (int g = 0; g < group; ++g) {
                const int hq = h * group + g;
                for (int64_t i = 0; i < 100; ++i) {
                    const float* q = recorder.queries[static_cast<size_t>(il)].data() +
                                     static_cast<size_t>((i * shape.n_head + hq) * d);
                    const int64_t n_visible = n_ctx + i + 1;
                    std::vector<double> logits(static_cast<size_t>(n_visible));
                    for (int64_t j = 0; j < n_visible; ++j) {
                        double dot = 0.0;
                        for (int c = 0; c < d; ++c) dot += static_cast<double>(q[c]) * keys[static_cast<size_t>(j * d + c)];
                        logits[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(d));
                    }
                    const double max_logit = *std::max_element(logits.begin(), logits.end());
                    double total = 0.0;
                    for (double& x : logits) total += (x = std::exp(x - max_logit));
                    for (int64_t j = 0; j < n_ctx; ++j) {
                        expected[static_cast<size_t>(j)] =
                            std::max(expected[static_cast<size_t>(j)], logits[static_cast<size_t>(j)] / total);
                    }
                }
            }
            for (int64_t j = 0; j < n_ctx; ++j) {
                EXPECT_NEAR(run.scores.scores[static_cast<size_t>(il)][static_cast<size_t>(h * n_ctx + j)],
                            expected[static_cast<size_t>(j)], 1e-5)
                    << "layer " << il << " head " << h << " token " << j;
            }
        }
    }
}

TEST(Kvzip, ScoresAreProbabilitiesAndDeterministic) {
    const std::unique_ptr<Model> model = tiny_model();
    const ModelShape shape = shape_of(*model);
    const std::vector<int32_t> context = sample_tokens(50, 64, 3);
    const std::vector<int32_t> repetition = sample_tokens(70, 64, 4);

    KvzipScorer first(kvzip_options(), shape);
    KvzipScorer second(kvzip_options(), shape);
    KvzipScorer chunked(kvzip_options(), shape);
    const ScoreSet a = run_by_hand(*model, first, context, repetition, 512, nullptr).scores;
    const ScoreSet b = run_by_hand(*model, second, context, repetition, 512, nullptr).scores;
    const ScoreSet c = run_by_hand(*model, chunked, context, repetition, 9, nullptr).scores;

    ASSERT_EQ(a.scores.size(), static_cast<size_t>(shape.n_layer));
    for (int il = 0; il < shape.n_layer; ++il) {
        const std::vector<float>& layer = a.scores[static_cast<size_t>(il)];
        ASSERT_EQ(layer.size(), static_cast<size_t>(shape.n_head_kv) * 50);
        EXPECT_EQ(layer, b.scores[static_cast<size_t>(il)]) << "layer " << il << " differs between identical runs";
        for (size_t i = 0; i < layer.size(); ++i) {
            EXPECT_TRUE(std::isfinite(layer[i])) << "layer " << il << " index " << i;
            EXPECT_GT(layer[i], 0.0f) << "layer " << il << " index " << i;
            EXPECT_LE(layer[i], 1.0f) << "layer " << il << " index " << i;
            // Other chunk boundaries change only rounding.
            EXPECT_NEAR(layer[i], c.scores[static_cast<size_t>(il)][i], 1e-5) << "layer " << il << " index " << i;
        }
    }
}

TEST(Kvzip, QueryMatchingContextKeyScoresHighest) {
    // A repetition query pointing at context key 7 (as when the model copies
    // that token) gives key 7 nearly all of its attention.
    ModelShape shape;
    shape.n_layer = 1;
    shape.n_head = 2;
    shape.n_head_kv = 1;
    shape.head_dim = 8;
    const int64_t n_ctx = 20;
    const int d = shape.head_dim;
    std::mt19937 gen(8);
    std::normal_distribution<float> normal(0.0f, 0.3f);

    std::vector<float> keys(static_cast<size_t>(n_ctx) * d), values(keys.size(), 1.0f);
    for (float& x : keys) x = normal(gen);
    for (int c = 0; c < d; ++c) keys[static_cast<size_t>(7 * d + c)] = (c % 2 == 0) ? 1.0f : -1.0f;
    KvCache cache(1, 1, d);
    cache.append(0, keys.data(), values.data(), n_ctx, 0);
    cache.advance(n_ctx);

    KvzipScorer scorer(kvzip_options(), shape);
    LayerChunk context;
    context.il = 0;
    context.n_tokens = n_ctx;
    context.n_head = 2;
    context.n_head_kv = 1;
    context.head_dim = d;
    scorer.observe(context);

    const KvCache copy = cache;
    PrefillObserver* observer = scorer.begin_second_pass(copy, n_ctx);
    ASSERT_NE(observer, nullptr);
    std::vector<float> q(static_cast<size_t>(2 * d)), own_key(static_cast<size_t>(d), 0.0f);
    for (int hq = 0; hq < 2; ++hq) {
        for (int c = 0; c < d; ++c) q[static_cast<size_t>(hq * d + c)] = 6.0f * keys[static_cast<size_t>(7 * d + c)];
    }
    LayerChunk repeat = context;
    repeat.pos0 = n_ctx;
    repeat.n_tokens = 1;
    repeat.q_rope = q.data();
    repeat.k_rope = own_key.data();
    observer->observe(repeat);

    const ScoreSet scores = scorer.finalize(cache);
    const std::vector<float>& s = scores.scores[0];
    EXPECT_EQ(std::max_element(s.begin(), s.end()) - s.begin(), 7);
    EXPECT_GT(s[7], 0.9f);
    for (int64_t t = 0; t < n_ctx; ++t) {
        if (t != 7) {
            EXPECT_LT(s[static_cast<size_t>(t)], 0.05f) << "token " << t;
        }
    }
}

TEST(Kvzip, RunSecondPassWithTokenizer) {
    const std::unique_ptr<Model> model = tiny_model();
    const Tokenizer tokenizer = tiny_tokenizer();
    const ChatTemplate chatml = ChatTemplate::from_source("");
    const ModelShape shape = shape_of(*model);
    const std::vector<int32_t> document = tokenizer.encode("the cat sat on the mat, and the dog ran.", false);
    std::vector<int32_t> context = tokenizer.encode("<|im_start|>user\n", true);
    ASSERT_EQ(context.size(), 6u);  // <|im_start|> u s e r Ċ
    context.insert(context.end(), document.begin(), document.end());
    const auto n_ctx = static_cast<int64_t>(context.size());

    KvzipScorer scorer(kvzip_options(), shape);
    const KvCache cache = prefill(*model, context, scorer, 16);
    const double seconds = run_second_pass(*model, tokenizer, chatml, cache, scorer, document);
    EXPECT_GT(seconds, 0.0);

    // The full cache is unchanged and still scores.
    EXPECT_EQ(cache.next_pos(), n_ctx);
    EXPECT_EQ(cache.total_rows(), static_cast<int64_t>(shape.n_layer) * shape.n_head_kv * n_ctx);
    const ScoreSet scores = scorer.finalize(cache);
    ASSERT_EQ(scores.n_tokens, n_ctx);
    for (const std::vector<float>& layer : scores.scores) {
        for (float s : layer) {
            EXPECT_TRUE(std::isfinite(s));
            EXPECT_GT(s, 0.0f);
            EXPECT_LE(s, 1.0f);
        }
    }

    // And compression from those scores keeps the budget.
    KvCache compressed = cache;
    CompressionOptions options = kvzip_options();
    options.budget = BudgetMode::per_head;
    const CompressionReport report = compress_with_scores(compressed, scores, options);
    EXPECT_NEAR(static_cast<double>(compressed.length(0, 0)), n_ctx / 2.0, 1.0);
    EXPECT_NEAR(report.kept_fraction, 0.5, 0.02);
}

// Forwards to a KvzipScorer and watches its second-pass sequences.
class WatchedKvzip : public Scorer {
public:
    explicit WatchedKvzip(KvzipScorer& inner) : inner_(inner) {}
    void observe(const LayerChunk& c) override { inner_.observe(c); }
    ScoreSet finalize(const KvCache& cache) override { return inner_.finalize(cache); }
    bool needs_second_pass() const override { return true; }
    PrefillObserver* begin_second_pass(const KvCache& copy, int64_t n_context) override {
        ++n_sequences;
        watcher_.inner = inner_.begin_second_pass(copy, n_context);
        return &watcher_;
    }

    int n_sequences = 0;
    int64_t max_position() const { return watcher_.max_position; }
    int64_t n_repeated() const { return watcher_.n_layer0_tokens; }

private:
    struct Watcher : PrefillObserver {
        PrefillObserver* inner = nullptr;
        int64_t max_position = 0;
        int64_t n_layer0_tokens = 0;
        void observe(const LayerChunk& c) override {
            inner->observe(c);
            max_position = std::max(max_position, c.pos0 + c.n_tokens);
            if (c.il == 0) n_layer0_tokens += c.n_tokens;
        }
    };
    KvzipScorer& inner_;
    Watcher watcher_;
};

TEST(Kvzip, LongDocumentRepeatsInPieces) {
    // The tiny model's training context is 256 tokens and every character is
    // a token, so a 90-token context leaves room for about 55 tokens of its
    // 80-token document after the request.
    const std::unique_ptr<Model> model = tiny_model();
    const Tokenizer tokenizer = tiny_tokenizer();
    const ChatTemplate chatml = ChatTemplate::from_source("");
    const ModelShape shape = shape_of(*model);
    ASSERT_EQ(model->config().n_ctx_train, 256);
    std::string text;
    while (text.size() < 80) text += "a bird sang on the roof. ";
    text.resize(80);
    const std::vector<int32_t> document = tokenizer.encode(text, false);
    ASSERT_EQ(document.size(), 80u);
    std::vector<int32_t> context = sample_tokens(10, 64, 5);
    context.insert(context.end(), document.begin(), document.end());

    KvzipScorer kvzip(kvzip_options(), shape);
    WatchedKvzip watched(kvzip);
    const KvCache cache = prefill(*model, context, watched, 64);
    EXPECT_GT(run_second_pass(*model, tokenizer, chatml, cache, watched, document), 0.0);

    EXPECT_GT(watched.n_sequences, 1);
    EXPECT_LE(watched.max_position(), 256);
    EXPECT_GE(watched.n_repeated(), 80);
    const ScoreSet scores = watched.finalize(cache);
    for (const std::vector<float>& layer : scores.scores) {
        for (float s : layer) {
            EXPECT_TRUE(std::isfinite(s));
            EXPECT_LE(s, 1.0f);
        }
    }
}

TEST(Kvzip, SecondPassSkipsOtherScorers) {
    const std::unique_ptr<Model> model = tiny_model();
    const Tokenizer tokenizer = tiny_tokenizer();
    const ChatTemplate chatml = ChatTemplate::from_source("");
    CompressionOptions options;
    options.method = "compactor";
    const std::unique_ptr<Scorer> scorer = make_scorer(options, shape_of(*model));
    ASSERT_FALSE(scorer->needs_second_pass());
    const std::vector<int32_t> context = sample_tokens(20, 64, 6);
    const KvCache cache = prefill(*model, context, *scorer, 16);
    EXPECT_EQ(run_second_pass(*model, tokenizer, chatml, cache, *scorer, context), 0.0);
}

TEST(Kvzip, SecondPassRejectsBadInput) {
    const std::unique_ptr<Model> model = tiny_model();
    const Tokenizer tokenizer = tiny_tokenizer();
    const ChatTemplate chatml = ChatTemplate::from_source("");
    const std::vector<int32_t> context = sample_tokens(20, 64, 7);
    KvzipScorer scorer(kvzip_options(), shape_of(*model));
    KvCache cache = prefill(*model, context, scorer, 16);

    EXPECT_THROW(run_second_pass(*model, tokenizer, chatml, cache, scorer, {}), std::invalid_argument);
    const std::vector<int64_t> keep = {0, 1, 2};
    cache.compact(0, 0, keep);
    EXPECT_THROW(run_second_pass(*model, tokenizer, chatml, cache, scorer, context), std::invalid_argument);
}

TEST(Kvzip, ScorerRejectsMisuse) {
    const std::unique_ptr<Model> model = tiny_model();
    const ModelShape shape = shape_of(*model);
    const std::vector<int32_t> context = sample_tokens(20, 64, 8);
    KvzipScorer scorer(kvzip_options(), shape);
    const KvCache cache = prefill(*model, context, scorer, 16);

    EXPECT_TRUE(scorer.needs_second_pass());
    EXPECT_THROW(scorer.finalize(cache), std::logic_error);
    EXPECT_THROW(scorer.begin_second_pass(cache, 19), std::invalid_argument);
    KvCache compressed = cache;
    const std::vector<int64_t> keep = {0, 5};
    compressed.compact(1, 1, keep);
    EXPECT_THROW(scorer.begin_second_pass(compressed, 20), std::invalid_argument);
}

}  // namespace
}  // namespace compactor::test
