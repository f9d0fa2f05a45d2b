// compactor-test-libs: compactor_engine compactor_model
// Next-token NLL on tiny synthetic models: token_nll_in_place against a
// double-precision reference, Model::forward's next_token_nll,
// forward_batch's n_logit_rows, teacher_force_batch and the engine's
// context_nll, each checked against NLLs computed from all-token logits.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "compactor/engine.h"
#include "engine/teacher_force.h"
#include "model/forward_batch.h"
#include "model/token_nll.h"
#include "test_forward_model.h"
#include "tokenizer/byte_level.h"

namespace compactor::test {
namespace {

// ---- Reference ----

// −log softmax(row)[target] in double with the maximum subtracted first.
double reference_nll(const float* row, int64_t n_vocab, int32_t target) {
    double max_logit = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n_vocab; ++j) max_logit = std::max(max_logit, static_cast<double>(row[j]));
    double sum = 0.0;
    for (int64_t j = 0; j < n_vocab; ++j) sum += std::exp(static_cast<double>(row[j]) - max_logit);
    return max_logit + std::log(sum) - static_cast<double>(row[target]);
}

struct NllTotal {
    double sum = 0.0;
    int64_t count = 0;
};

// Reference NLL of the predictions whose position `selected` accepts: row i
// of all_logits ([tokens × n_vocab]) is the token at position pos0 + i and
// predicts tokens[i + 1].
NllTotal reference_next_token_nll(const std::vector<float>& all_logits, std::span<const int32_t> tokens,
                                  int n_vocab, int64_t pos0, const std::function<bool(int64_t)>& selected) {
    NllTotal total;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
        if (!selected(pos0 + static_cast<int64_t>(i))) continue;
        total.sum += reference_nll(all_logits.data() + i * static_cast<size_t>(n_vocab), n_vocab, tokens[i + 1]);
        ++total.count;
    }
    return total;
}

// The selection rule of NextTokenNll.
std::function<bool(int64_t)> strided(int64_t stride, int64_t first_target) {
    return [=](int64_t pos) { return pos % stride == 0 && pos + 1 >= first_target; };
}

// Logits of every token of `tokens` run on a copy of `cache`.
std::vector<float> all_logits_of(const Model& model, std::span<const int32_t> tokens, KvCache cache) {
    ForwardOptions options;
    options.all_logits = true;
    std::vector<float> logits;
    model.forward(tokens, cache, options, &logits);
    return logits;
}

// Tolerance for a sum of NLLs computed in float and compared with the
// double reference: 1e-5 relative, at least 1e-6 nats.
double nll_tolerance(double expected) { return std::max(1e-6, 1e-5 * std::abs(expected)); }

struct CacheState {
    int64_t next_pos = 0;
    int64_t total_rows = 0;
};

CacheState state_of(const KvCache& cache) { return {cache.next_pos(), cache.total_rows()}; }

void expect_cache_unchanged(const KvCache& cache, const CacheState& before, const std::string& label) {
    EXPECT_EQ(cache.next_pos(), before.next_pos) << label;
    EXPECT_EQ(cache.total_rows(), before.total_rows) << label;
}

void expect_contains(const std::string& message, const std::string& part) {
    EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected to contain: " << part;
}

// Keep every other row of every head, as a 50% compression would.
void compact_half(KvCache& cache) {
    for (int il = 0; il < cache.n_layer(); ++il) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            std::vector<int64_t> keep;
            for (int64_t r = 0; r < cache.length(il, h); r += 2) keep.push_back(r);
            cache.compact(il, h, keep);
        }
    }
}

// ---- token_nll_in_place ----

// Compare token_nll_in_place with the reference on a copy of `row`.
void expect_matches_reference(const std::vector<float>& row, int32_t target, const std::string& label) {
    const auto n_vocab = static_cast<int64_t>(row.size());
    const double expected = reference_nll(row.data(), n_vocab, target);
    std::vector<float> scratch = row;
    const double actual = token_nll_in_place(scratch.data(), n_vocab, target);
    EXPECT_NEAR(actual, expected, 1e-5 * std::max(1.0, std::abs(expected))) << label << ", target " << target;
}

TEST(TokenNllInPlace, RandomRowsMatchReference) {
    std::mt19937_64 rng(11);
    for (const int64_t n_vocab : {1, 5, 16, 17, 64, 1000, 151936}) {
        for (const float scale : {1.0f, 10.0f, 80.0f}) {
            const std::vector<float> row = random_values(rng, static_cast<size_t>(n_vocab), scale);
            std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab) - 1);
            const std::string label = "n_vocab " + std::to_string(n_vocab) + ", logits in ±" + std::to_string(scale);
            expect_matches_reference(row, pick(rng), label);
        }
    }
}

TEST(TokenNllInPlace, LargeLogitsStayFinite) {
    // ±80: once the maximum is subtracted, the smallest terms are exp(−160),
    // far below float's range, and must drop out without changing the NLL.
    std::vector<float> row(1000);
    for (size_t j = 0; j < row.size(); ++j) row[j] = j % 2 == 0 ? 80.0f : -80.0f;
    row[123] = 79.5f;

    expect_matches_reference(row, 0, "the largest logit");
    expect_matches_reference(row, 1, "the smallest logit");
    expect_matches_reference(row, 123, "a logit below the largest");

    std::vector<float> scratch = row;
    EXPECT_TRUE(std::isfinite(token_nll_in_place(scratch.data(), 1000, 1)));
}

TEST(TokenNllInPlace, OneHotRow) {
    std::vector<float> row(5000, -80.0f);
    row[4321] = 80.0f;

    std::vector<float> hot = row;
    EXPECT_NEAR(token_nll_in_place(hot.data(), 5000, 4321), 0.0, 1e-9);

    // The target 160 below the maximum costs 160 nats plus log(sum) ≈ 0.
    std::vector<float> cold = row;
    EXPECT_NEAR(token_nll_in_place(cold.data(), 5000, 17), 160.0, 1e-4);
}

TEST(TokenNllInPlace, UniformRowIsLogVocab) {
    std::vector<float> row(151936, 3.25f);
    EXPECT_NEAR(token_nll_in_place(row.data(), 151936, 500), std::log(151936.0), 1e-5);
}

// ---- Model::forward with next_token_nll ----

class ForwardNll : public ::testing::Test {
protected:
    void SetUp() override {
        build_tiny_model(spec_, writer_);
        model_ = load_from_writer(writer_, 2);
        tokens_ = sample_tokens(40, spec_.n_vocab, 21);
    }

    // Run tokens_ on a fresh cache with all_logits and next_token_nll in one
    // call, so the hand computation reads the logits of the same forward.
    std::vector<float> forward_scored(NextTokenNll& nll, int64_t chunk_size = 512) const {
        KvCache cache = model_->make_cache();
        ForwardOptions options;
        options.chunk_size = chunk_size;
        options.all_logits = true;
        options.next_token_nll = &nll;
        std::vector<float> logits;
        model_->forward(tokens_, cache, options, &logits);
        return logits;
    }

    TinySpec spec_;
    GgufWriter writer_;
    std::unique_ptr<Model> model_;
    std::vector<int32_t> tokens_;
};

TEST_F(ForwardNll, StrideOneMatchesLogits) {
    NextTokenNll nll{1, 0};
    const std::vector<float> logits = forward_scored(nll);

    const NllTotal expected = reference_next_token_nll(logits, tokens_, spec_.n_vocab, 0, strided(1, 0));
    EXPECT_EQ(nll.n_scored, 39);
    EXPECT_EQ(expected.count, 39);
    EXPECT_NEAR(nll.nll_sum, expected.sum, nll_tolerance(expected.sum));
    EXPECT_NEAR(nll.mean(), expected.sum / 39.0, nll_tolerance(expected.sum / 39.0));
}

TEST_F(ForwardNll, StrideAndFirstTargetSelect) {
    struct Case {
        int64_t stride;
        int64_t first_target;
        int64_t n_scored;  // predictions at positions 0 .. 38 that the rule selects
    };
    const std::vector<Case> cases = {
        {3, 5, 11},   // positions 6, 9, ..., 36
        {3, 7, 11},   // position 6 predicts position 7, so it is still scored
        {3, 8, 10},   // positions 9 .. 36
        {4, 0, 10},   // positions 0, 4, ..., 36
        {1, 30, 10},  // positions 29 .. 38
        {2, 100, 0},  // no target that far
    };
    for (const Case& c : cases) {
        SCOPED_TRACE("stride " + std::to_string(c.stride) + ", first_target " + std::to_string(c.first_target));
        NextTokenNll nll{c.stride, c.first_target};
        const std::vector<float> logits = forward_scored(nll);

        const NllTotal expected =
            reference_next_token_nll(logits, tokens_, spec_.n_vocab, 0, strided(c.stride, c.first_target));
        EXPECT_EQ(expected.count, c.n_scored);
        EXPECT_EQ(nll.n_scored, c.n_scored);
        EXPECT_NEAR(nll.nll_sum, expected.sum, nll_tolerance(expected.sum));
    }
}

TEST_F(ForwardNll, ChunksKeepEveryPrediction) {
    // Chunks of one call see the next chunk's tokens, so no prediction is lost.
    NextTokenNll whole{1, 0};
    const std::vector<float> logits = forward_scored(whole);
    NextTokenNll chunked{1, 0};
    forward_scored(chunked, 7);

    const NllTotal expected = reference_next_token_nll(logits, tokens_, spec_.n_vocab, 0, strided(1, 0));
    EXPECT_EQ(chunked.n_scored, 39);
    EXPECT_NEAR(chunked.nll_sum, expected.sum, nll_tolerance(expected.sum));
}

TEST_F(ForwardNll, SplitCallLosesBoundary) {
    // Two forward calls on one cache: the first call's last position predicts
    // a token that only the second call contains, so that one prediction is
    // not scored. Every other position is scored by its absolute position.
    struct Case {
        int64_t stride;
        size_t split;        // tokens in the first call
        bool boundary_lost;  // whether position split − 1 is one the stride selects
    };
    const std::vector<Case> cases = {{1, 17, true}, {3, 16, true}, {3, 17, false}, {4, 1, true}};
    for (const Case& c : cases) {
        SCOPED_TRACE("stride " + std::to_string(c.stride) + ", split after " + std::to_string(c.split));
        const std::vector<float> logits = all_logits_of(*model_, tokens_, model_->make_cache());
        const NllTotal all = reference_next_token_nll(logits, tokens_, spec_.n_vocab, 0, strided(c.stride, 0));
        const auto boundary = static_cast<int64_t>(c.split) - 1;
        const auto not_boundary = [&](int64_t pos) { return pos % c.stride == 0 && pos != boundary; };
        const NllTotal expected = reference_next_token_nll(logits, tokens_, spec_.n_vocab, 0, not_boundary);
        EXPECT_EQ(expected.count, all.count - (c.boundary_lost ? 1 : 0));

        KvCache cache = model_->make_cache();
        NextTokenNll nll{c.stride, 0};
        ForwardOptions options;
        options.next_token_nll = &nll;
        const std::span<const int32_t> tokens(tokens_);
        model_->forward(tokens.first(c.split), cache, options, nullptr);
        model_->forward(tokens.subspan(c.split), cache, options, nullptr);

        EXPECT_EQ(nll.n_scored, expected.count);
        EXPECT_NEAR(nll.nll_sum, expected.sum, nll_tolerance(expected.sum));
    }
}

TEST_F(ForwardNll, ZeroStrideThrows) {
    KvCache cache = model_->make_cache();
    NextTokenNll nll{0, 0};
    ForwardOptions options;
    options.next_token_nll = &nll;

    EXPECT_THROW(model_->forward(tokens_, cache, options, nullptr), std::invalid_argument);
    EXPECT_EQ(cache.next_pos(), 0);
    EXPECT_EQ(nll.n_scored, 0);
}

// ---- Model::forward_batch with n_logit_rows ----

// One sequence of a batch and the number of logit rows it requests.
struct RowsSequence {
    KvCache cache;
    std::vector<int32_t> tokens;
    int64_t n_rows = 1;
};

class BatchLogitRows : public ::testing::Test {
protected:
    void SetUp() override {
        spec_.n_ctx = 4096;  // room for a sequence longer than one pass
        build_tiny_model(spec_, writer_);
        model_ = load_from_writer(writer_, 2);
    }

    RowsSequence make_sequence(int n_prefill, int n_tokens, int64_t n_rows, uint64_t seed) const {
        RowsSequence s{model_->make_cache(), sample_tokens(n_tokens, spec_.n_vocab, seed), n_rows};
        if (n_prefill > 0) {
            model_->forward(sample_tokens(n_prefill, spec_.n_vocab, seed + 1000), s.cache, ForwardOptions{}, nullptr);
        }
        return s;
    }

    // forward_batch on copies of the caches, which end up in `caches`.
    std::vector<float> run_batch(const std::vector<RowsSequence>& sequences, std::span<const int64_t> n_rows,
                                 std::vector<KvCache>& caches, bool pass_rows = true) const {
        caches.clear();
        for (const RowsSequence& s : sequences) caches.push_back(s.cache);
        std::vector<std::span<const int32_t>> tokens;
        std::vector<KvCache*> cache_ptrs;
        for (size_t i = 0; i < sequences.size(); ++i) {
            tokens.emplace_back(sequences[i].tokens);
            cache_ptrs.push_back(&caches[i]);
        }
        std::vector<float> logits;
        if (pass_rows) {
            model_->forward_batch(tokens, cache_ptrs, &logits, n_rows);
        } else {
            model_->forward_batch(tokens, cache_ptrs, &logits);
        }
        return logits;
    }

    // Each sequence's last n_rows logit rows from forward() with all_logits
    // must equal its part of the batch's output.
    void expect_rows_match_forward(const std::vector<RowsSequence>& sequences) {
        std::vector<int64_t> n_rows;
        for (const RowsSequence& s : sequences) n_rows.push_back(s.n_rows);
        std::vector<KvCache> caches;
        const std::vector<float> batched = run_batch(sequences, n_rows, caches);

        const auto n_vocab = static_cast<size_t>(spec_.n_vocab);
        size_t total_rows = 0;
        for (const int64_t rows : n_rows) total_rows += static_cast<size_t>(rows);
        ASSERT_EQ(batched.size(), total_rows * n_vocab);

        size_t out_row = 0;
        for (size_t i = 0; i < sequences.size(); ++i) {
            const RowsSequence& s = sequences[i];
            const std::vector<float> expected = all_logits_of(*model_, s.tokens, s.cache);
            const size_t first = s.tokens.size() - static_cast<size_t>(s.n_rows);
            double max_diff = 0.0;
            for (size_t r = 0; r < static_cast<size_t>(s.n_rows); ++r) {
                for (size_t j = 0; j < n_vocab; ++j) {
                    const double diff = std::abs(static_cast<double>(batched[(out_row + r) * n_vocab + j]) -
                                                 expected[(first + r) * n_vocab + j]);
                    max_diff = std::max(max_diff, diff);
                }
            }
            EXPECT_LT(max_diff, 1e-4) << "sequence " << i << " (" << s.tokens.size() << " tokens, last "
                                      << s.n_rows << " rows)";
            EXPECT_EQ(caches[i].next_pos(), s.cache.next_pos() + static_cast<int64_t>(s.tokens.size()))
                << "sequence " << i;
            out_row += static_cast<size_t>(s.n_rows);
        }
    }

    TinySpec spec_;
    GgufWriter writer_;
    std::unique_ptr<Model> model_;
};

TEST_F(BatchLogitRows, RowsMatchForwardAllLogits) {
    std::vector<RowsSequence> sequences;
    sequences.push_back(make_sequence(0, 9, 1, 1));
    sequences.push_back(make_sequence(12, 23, 4, 2));
    sequences.push_back(make_sequence(0, 14, 14, 3));
    expect_rows_match_forward(sequences);
}

TEST_F(BatchLogitRows, RowsSpanPassBoundary) {
    // Pass 1 holds sequence 0 (100 rows) and tokens 0 .. 1947 of sequence 1;
    // its logit rows, tokens 1900 .. 2099, start in pass 1 and end in pass 2.
    std::vector<RowsSequence> sequences;
    sequences.push_back(make_sequence(0, 100, 1, 4));
    sequences.push_back(make_sequence(0, 2100, 200, 5));
    sequences.push_back(make_sequence(6, 50, 50, 6));
    ASSERT_GT(100 + 2100, kMaxBatchRows);
    ASSERT_LT(100 + 2100 - 200, kMaxBatchRows);
    expect_rows_match_forward(sequences);
}

TEST_F(BatchLogitRows, EmptyCountsMeanLastToken) {
    std::vector<RowsSequence> sequences;
    sequences.push_back(make_sequence(5, 7, 1, 7));
    sequences.push_back(make_sequence(0, 3, 1, 8));
    sequences.push_back(make_sequence(20, 1, 1, 9));
    std::vector<KvCache> caches;

    const std::vector<float> without_counts = run_batch(sequences, {}, caches, false);
    const std::vector<float> empty_counts = run_batch(sequences, {}, caches);
    const std::vector<int64_t> ones = {1, 1, 1};
    const std::vector<float> one_each = run_batch(sequences, ones, caches);

    ASSERT_EQ(without_counts.size(), 3u * static_cast<size_t>(spec_.n_vocab));
    EXPECT_TRUE(empty_counts == without_counts) << "an empty n_logit_rows changed the logits";
    EXPECT_TRUE(one_each == without_counts) << "one row per sequence differs from the last-token logits";
}

TEST_F(BatchLogitRows, InvalidCountsThrow) {
    std::vector<RowsSequence> sequences;
    sequences.push_back(make_sequence(5, 3, 1, 10));
    sequences.push_back(make_sequence(6, 4, 1, 11));
    sequences.push_back(make_sequence(7, 2, 1, 12));

    struct Case {
        std::string name;
        std::vector<int64_t> n_rows;
        std::string message_part;
    };
    const std::vector<Case> cases = {
        {"fewer counts than sequences", {1, 1}, "2 logit row counts for 3 sequences"},
        {"more counts than sequences", {1, 1, 1, 1}, "4 logit row counts for 3 sequences"},
        {"zero rows", {1, 0, 1}, "sequence 1"},
        {"negative rows", {1, 1, -1}, "sequence 2"},
        {"more rows than tokens", {1, 5, 1}, "sequence 1"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        std::vector<KvCache> caches;
        for (const RowsSequence& s : sequences) caches.push_back(s.cache);
        const std::vector<std::span<const int32_t>> tokens = {sequences[0].tokens, sequences[1].tokens,
                                                              sequences[2].tokens};
        const std::vector<KvCache*> cache_ptrs = {&caches[0], &caches[1], &caches[2]};

        std::string message;
        std::vector<float> logits;
        try {
            model_->forward_batch(tokens, cache_ptrs, &logits, c.n_rows);
        } catch (const std::invalid_argument& e) {
            message = e.what();
        }

        ASSERT_FALSE(message.empty()) << "the counts were accepted";
        expect_contains(message, c.message_part);
        for (size_t i = 0; i < caches.size(); ++i) {
            expect_cache_unchanged(caches[i], state_of(sequences[i].cache), "sequence " + std::to_string(i));
        }
    }
}

// ---- teacher_force_batch ----

// The reference NLL of `answer` after `prompt` on a copy of `cache`.
NllTotal reference_forced_nll(const Model& model, const KvCache& cache, const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& answer) {
    std::vector<int32_t> tokens = prompt;
    tokens.insert(tokens.end(), answer.begin(), answer.end());
    const std::vector<float> logits = all_logits_of(model, tokens, cache);
    const auto n_vocab = static_cast<size_t>(model.config().n_vocab);

    NllTotal total;
    for (size_t k = 0; k < answer.size(); ++k) {
        const size_t row = prompt.size() - 1 + k;
        total.sum += reference_nll(logits.data() + row * n_vocab, static_cast<int64_t>(n_vocab), answer[k]);
        ++total.count;
    }
    return total;
}

class TeacherForce : public ::testing::Test {
protected:
    void SetUp() override {
        build_tiny_model(spec_, writer_);
        model_ = load_from_writer(writer_, 2);
    }

    KvCache prefilled(int n_tokens, uint64_t seed) const {
        KvCache cache = model_->make_cache();
        if (n_tokens > 0) model_->forward(sample_tokens(n_tokens, spec_.n_vocab, seed), cache, ForwardOptions{}, nullptr);
        return cache;
    }

    std::vector<int32_t> tokens(int n, uint64_t seed) const { return sample_tokens(n, spec_.n_vocab, seed); }

    TinySpec spec_;
    GgufWriter writer_;
    std::unique_ptr<Model> model_;
};

TEST_F(TeacherForce, MatchesForwardLogits) {
    // Requests 1 and 2 force the same prompt and answer on a full and a
    // compacted copy of one cache, so each must get its own NLL.
    const KvCache full = prefilled(40, 30);
    KvCache compacted = full;
    compact_half(compacted);
    std::vector<KvCache> caches = {model_->make_cache(), full, compacted, prefilled(12, 31)};
    const std::vector<int32_t> shared_prompt = tokens(3, 32);
    const std::vector<int32_t> shared_answer = tokens(6, 33);

    std::vector<ForcedRequest> requests(4);
    requests[0] = {&caches[0], tokens(5, 34), tokens(7, 35)};
    requests[1] = {&caches[1], shared_prompt, shared_answer};
    requests[2] = {&caches[2], shared_prompt, shared_answer};
    requests[3] = {&caches[3], tokens(1, 36), tokens(1, 37)};
    std::vector<NllTotal> expected;
    std::vector<CacheState> before;
    for (const ForcedRequest& request : requests) {
        expected.push_back(reference_forced_nll(*model_, *request.cache, request.prompt, request.answer));
        before.push_back(state_of(*request.cache));
    }
    ASSERT_GT(std::abs(expected[1].sum - expected[2].sum), 100 * nll_tolerance(expected[1].sum))
        << "the full and compacted caches should give different NLLs";

    const std::vector<ForcedNll> result = teacher_force_batch(*model_, requests);

    ASSERT_EQ(result.size(), requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
        SCOPED_TRACE("request " + std::to_string(i));
        EXPECT_EQ(result[i].n_tokens, expected[i].count);
        EXPECT_NEAR(result[i].nll_sum, expected[i].sum, 1e-4 * std::max(1.0, std::abs(expected[i].sum)));

        // The last answer token is scored but never run, so the cache grows
        // by the prompt and all answer tokens but the last.
        const auto n_run = static_cast<int64_t>(requests[i].prompt.size() + requests[i].answer.size()) - 1;
        EXPECT_EQ(caches[i].next_pos(), before[i].next_pos + n_run);
    }
}

TEST_F(TeacherForce, EmptyBatchReturnsNothing) {
    std::vector<ForcedRequest> requests;
    EXPECT_TRUE(teacher_force_batch(*model_, requests).empty());
}

TEST_F(TeacherForce, ContextLimitIsInclusive) {
    // cache + prompt + answer == n_ctx is accepted, but one more token is not.
    KvCache cache = prefilled(200, 40);
    std::vector<ForcedRequest> fits(1);
    fits[0] = {&cache, tokens(6, 41), tokens(50, 42)};
    ASSERT_EQ(200 + 6 + 50, spec_.n_ctx);
    EXPECT_NO_THROW(teacher_force_batch(*model_, fits));

    KvCache other = prefilled(200, 40);
    std::vector<ForcedRequest> too_long(1);
    too_long[0] = {&other, tokens(6, 41), tokens(51, 42)};
    EXPECT_THROW(teacher_force_batch(*model_, too_long), std::invalid_argument);
    EXPECT_EQ(other.next_pos(), 200);
}

TEST_F(TeacherForce, InvalidRequestsThrow) {
    struct Case {
        std::string name;
        std::function<void(std::vector<ForcedRequest>&, std::vector<KvCache>&)> spoil;
        std::vector<std::string> message_parts;
    };
    const int n_vocab = spec_.n_vocab;
    const std::vector<Case> cases = {
        {"null cache", [](auto& r, auto&) { r[1].cache = nullptr; }, {"request 1", "null KV cache"}},
        {"empty prompt", [](auto& r, auto&) { r[2].prompt.clear(); }, {"request 2", "0 prompt"}},
        {"empty answer", [](auto& r, auto&) { r[1].answer.clear(); }, {"request 1", "0 answer"}},
        {"shared cache", [](auto& r, auto&) { r[2].cache = r[0].cache; }, {"requests 0 and 2"}},
        {"token id n_vocab", [=](auto& r, auto&) { r[2].answer[1] = n_vocab; }, {"request 2", "token id 64"}},
        {"negative token id", [](auto& r, auto&) { r[1].prompt[0] = -1; }, {"request 1", "token id -1"}},
        {"longer than the context", [](auto& r, auto&) { r[1].answer.resize(260, 3); },
         {"request 1", "context of 256 tokens"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        std::vector<KvCache> caches = {prefilled(5, 50), prefilled(6, 51), prefilled(7, 52)};
        std::vector<ForcedRequest> requests(3);
        for (size_t i = 0; i < 3; ++i) requests[i] = {&caches[i], tokens(3, 60 + i), tokens(4, 70 + i)};
        c.spoil(requests, caches);

        std::string message;
        try {
            teacher_force_batch(*model_, requests);
        } catch (const std::invalid_argument& e) {
            message = e.what();
        }

        ASSERT_FALSE(message.empty()) << "the requests were accepted";
        for (const std::string& part : c.message_parts) expect_contains(message, part);
        for (size_t i = 0; i < caches.size(); ++i) {
            EXPECT_EQ(caches[i].next_pos(), static_cast<int64_t>(5 + i)) << "cache " << i;
            EXPECT_EQ(caches[i].max_length(), static_cast<int64_t>(5 + i)) << "cache " << i;
        }
    }
}

TEST(TeacherForceGroups, SplitBatchMatchesForward) {
    // With 2^18 vocabulary entries, one 256 MiB group of logits contains at
    // most 256 rows, so answers of 130 + 130 + 20 tokens run as two groups.
    TinySpec spec;
    spec.n_vocab = 1 << 18;
    spec.n_layer = 1;
    GgufWriter writer;
    build_tiny_model(spec, writer);
    const std::unique_ptr<Model> model = load_from_writer(writer, 2);

    std::vector<KvCache> caches;
    for (int i = 0; i < 3; ++i) {
        caches.push_back(model->make_cache());
        model->forward(sample_tokens(10 + i, spec.n_vocab, 80 + static_cast<uint64_t>(i)), caches.back(),
                       ForwardOptions{}, nullptr);
    }
    std::vector<ForcedRequest> requests(3);
    const std::vector<int> answer_lengths = {130, 130, 20};
    for (size_t i = 0; i < 3; ++i) {
        requests[i] = {&caches[i], sample_tokens(4, spec.n_vocab, 90 + i),
                       sample_tokens(answer_lengths[i], spec.n_vocab, 95 + i)};
    }
    std::vector<NllTotal> expected;
    for (const ForcedRequest& request : requests) {
        expected.push_back(reference_forced_nll(*model, *request.cache, request.prompt, request.answer));
    }

    const std::vector<ForcedNll> result = teacher_force_batch(*model, requests);

    ASSERT_EQ(result.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        SCOPED_TRACE("request " + std::to_string(i));
        EXPECT_EQ(result[i].n_tokens, answer_lengths[i]);
        EXPECT_NEAR(result[i].nll_sum, expected[i].sum, 1e-4 * std::abs(expected[i].sum));
    }
}

// ---- DocumentSession::context_nll ----

// A tiny model with a byte-level BPE vocabulary: 3 control tokens, the 256
// single bytes and one merge ("a" + "b"), so the engine can tokenize any text.
class ContextNll : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        TinySpec spec;
        spec.n_vocab = 3 + 256 + 1;
        GgufWriter writer;
        build_tiny_model(spec, writer);

        std::vector<std::string> vocab = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        std::vector<int32_t> types = {3, 3, 3};
        for (int byte = 0; byte < 256; ++byte) {
            vocab.push_back(bytes_to_byte_level(std::string(1, static_cast<char>(byte))));
            types.push_back(1);
        }
        vocab.push_back("ab");
        types.push_back(1);
        writer.add_string("tokenizer.ggml.model", "gpt2");
        writer.add_string("tokenizer.ggml.pre", "gpt2");
        writer.add_strings("tokenizer.ggml.tokens", vocab);
        writer.add_i32s("tokenizer.ggml.token_type", types);
        writer.add_strings("tokenizer.ggml.merges", {"a b"});

        const std::string path = writer.write_temp("compactor-tiny-engine");
        try {
            engine_ = std::make_unique<Engine>(path, 2);
        } catch (...) {
            std::filesystem::remove(path);
            throw;
        }
        std::filesystem::remove(path);
    }
    static void TearDownTestSuite() { engine_.reset(); }

    static DocumentOptions document_options(int64_t nll_stride, int64_t prefill_chunk) {
        DocumentOptions options;
        options.compression.sink = 4;
        options.compression.recent = 4;
        options.compression.attn_chunk = 32;
        options.answer_reserve = 16;  // the tiny model's context is 256 tokens
        options.nll_stride = nll_stride;
        options.prefill_chunk = prefill_chunk;
        return options;
    }

    // Reference context NLL of a session's prompt: positions that `selected`
    // accepts, among those predicting a document token.
    static NllTotal reference_of(const DocumentSession& session, const std::function<bool(int64_t)>& selected) {
        const Model& model = engine_->model();
        const std::vector<float> logits = all_logits_of(model, session.prompt_tokens(), model.make_cache());
        const int64_t first_target = session.n_template_tokens();
        return reference_next_token_nll(logits, session.prompt_tokens(), model.config().n_vocab, 0,
                                        [&](int64_t pos) { return pos + 1 >= first_target && selected(pos); });
    }

    static std::unique_ptr<Engine> engine_;
};

std::unique_ptr<Engine> ContextNll::engine_;

constexpr const char* kDocument =
    "A keeper painted the lighthouse red in 1911. Its lamp is seen from twenty miles away, "
    "and supply boats reach the island every second Tuesday.";

TEST_F(ContextNll, TemplateIsExcluded) {
    const DocumentSession session = engine_->open_document(kDocument, document_options(1, 512));

    // <|im_start|>, "user" as 4 bytes, "\n"
    EXPECT_EQ(session.n_template_tokens(), 6);
    EXPECT_EQ(session.prompt_tokens().front(), 1);
    EXPECT_EQ(session.n_context_tokens(), static_cast<int64_t>(session.prompt_tokens().size()));

    // Every document token is predicted once, the first from the template's last token.
    const int64_t n_document = session.n_context_tokens() - session.n_template_tokens();
    EXPECT_EQ(session.n_nll_tokens(), n_document);
    const NllTotal expected = reference_of(session, [](int64_t) { return true; });
    EXPECT_EQ(expected.count, n_document);
    EXPECT_NEAR(session.context_nll(), expected.sum / static_cast<double>(expected.count),
                nll_tolerance(expected.sum / static_cast<double>(expected.count)));
}

TEST_F(ContextNll, StrideDividingChunkLosesNothing) {
    // With chunks of 8 and stride 4 the chunk's last position (7 mod 8) is
    // never selected, so splitting the prefill loses no prediction.
    const DocumentSession session = engine_->open_document(kDocument, document_options(4, 8));
    const NllTotal expected = reference_of(session, [](int64_t pos) { return pos % 4 == 0; });

    EXPECT_EQ(session.n_nll_tokens(), expected.count);
    EXPECT_NEAR(session.context_nll(), expected.sum / static_cast<double>(expected.count),
                nll_tolerance(expected.sum / static_cast<double>(expected.count)));
}

TEST_F(ContextNll, ChunkBoundariesAreSkipped) {
    // Stride 3 with chunks of 8: positions 15, 39, 63, ... end a chunk, and
    // their targets are in the next forward call.
    const DocumentSession session = engine_->open_document(kDocument, document_options(3, 8));
    const NllTotal all = reference_of(session, [](int64_t pos) { return pos % 3 == 0; });
    const NllTotal expected = reference_of(session, [](int64_t pos) { return pos % 3 == 0 && pos % 8 != 7; });
    ASSERT_LT(expected.count, all.count) << "the document should span a skipped chunk boundary";

    EXPECT_EQ(session.n_nll_tokens(), expected.count);
    EXPECT_NEAR(session.context_nll(), expected.sum / static_cast<double>(expected.count),
                nll_tolerance(expected.sum / static_cast<double>(expected.count)));
}

TEST_F(ContextNll, ZeroStrideIsNan) {
    const DocumentSession session = engine_->open_document(kDocument, document_options(0, 512));

    EXPECT_TRUE(std::isnan(session.context_nll()));
    EXPECT_EQ(session.n_nll_tokens(), 0);
}

TEST_F(ContextNll, NegativeStrideThrows) {
    EXPECT_THROW(engine_->open_document(kDocument, document_options(-1, 512)), std::invalid_argument);
}

}  // namespace
}  // namespace compactor::test
