// compactor-test-libs: compactor_model
// Model::forward_batch against forward() run per sequence: mixed prompt
// lengths, ragged compressed caches, decode steps, batches longer than one
// pass, and rejected input.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/forward_batch.h"
#include "test_forward_model.h"

namespace compactor::test {
namespace {

// One sequence of a batch: a prefilled (possibly compacted) cache and the
// tokens the batch runs on it.
struct Sequence {
    KvCache cache;
    std::vector<int32_t> tokens;
};

// Keep a random subset of rows of some heads, so heads of one layer end up
// with different lengths as after per-layer compression. Returns the number
// of heads compacted.
int compact_some_heads(KvCache& cache, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::bernoulli_distribution pick_head(0.6);
    std::bernoulli_distribution keep_row(0.5);
    int n_compacted = 0;
    for (int il = 0; il < cache.n_layer(); ++il) {
        for (int h = 0; h < cache.n_head_kv(); ++h) {
            if (!pick_head(rng)) continue;
            std::vector<int64_t> keep;
            for (int64_t r = 0; r < cache.length(il, h); ++r) {
                if (keep_row(rng)) keep.push_back(r);
            }
            cache.compact(il, h, keep);
            ++n_compacted;
        }
    }
    return n_compacted;
}

// Sequences with document lengths doc_lengths[i] (0: a fresh cache) and
// prompt lengths prompt_lengths[i]. Every other cache is compacted.
std::vector<Sequence> make_sequences(const Model& model, const std::vector<int>& doc_lengths,
                                     const std::vector<int>& prompt_lengths, uint64_t seed) {
    const int n_vocab = model.config().n_vocab;
    std::vector<Sequence> sequences;
    for (size_t i = 0; i < doc_lengths.size(); ++i) {
        Sequence s{model.make_cache(), sample_tokens(prompt_lengths[i], n_vocab, seed + 100 + i)};
        if (doc_lengths[i] > 0) {
            model.forward(sample_tokens(doc_lengths[i], n_vocab, seed + i), s.cache, ForwardOptions{}, nullptr);
            if (i % 2 == 1) compact_some_heads(s.cache, seed + 200 + i);
        }
        sequences.push_back(std::move(s));
    }
    return sequences;
}

// Last-token logits of each sequence from forward(), on copies of the caches.
std::vector<std::vector<float>> logits_one_by_one(const Model& model, const std::vector<Sequence>& sequences,
                                                  std::vector<KvCache>* caches_out = nullptr) {
    std::vector<std::vector<float>> all;
    for (const Sequence& s : sequences) {
        KvCache cache = s.cache;
        std::vector<float> logits;
        model.forward(s.tokens, cache, ForwardOptions{}, &logits);
        all.push_back(std::move(logits));
        if (caches_out != nullptr) caches_out->push_back(std::move(cache));
    }
    return all;
}

// [n_seq × n_vocab] logits of one forward_batch() call on copies of the caches.
std::vector<float> logits_batched(const Model& model, const std::vector<Sequence>& sequences,
                                  std::vector<KvCache>& caches) {
    caches.clear();
    for (const Sequence& s : sequences) caches.push_back(s.cache);
    std::vector<std::span<const int32_t>> tokens;
    std::vector<KvCache*> cache_ptrs;
    for (size_t i = 0; i < sequences.size(); ++i) {
        tokens.emplace_back(sequences[i].tokens);
        cache_ptrs.push_back(&caches[i]);
    }
    std::vector<float> logits;
    model.forward_batch(tokens, cache_ptrs, &logits);
    return logits;
}

std::vector<float> row_of(const std::vector<float>& logits, size_t i, int n_vocab) {
    const auto begin = logits.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(n_vocab));
    return {begin, begin + n_vocab};
}

// Caches after the batch hold what forward() would have appended.
void expect_same_caches(const KvCache& batched, const KvCache& expected, size_t seq) {
    ASSERT_EQ(batched.next_pos(), expected.next_pos()) << "sequence " << seq;
    for (int il = 0; il < expected.n_layer(); ++il) {
        for (int h = 0; h < expected.n_head_kv(); ++h) {
            ASSERT_EQ(batched.length(il, h), expected.length(il, h)) << "sequence " << seq << " layer " << il;
            const auto pos_a = batched.positions(il, h);
            const auto pos_b = expected.positions(il, h);
            EXPECT_TRUE(std::equal(pos_a.begin(), pos_a.end(), pos_b.begin()))
                << "sequence " << seq << " layer " << il << " head " << h;
            const std::vector<float> k_a(batched.keys(il, h).begin(), batched.keys(il, h).end());
            const std::vector<float> k_b(expected.keys(il, h).begin(), expected.keys(il, h).end());
            EXPECT_LT(relative_max_diff(k_a, k_b), 1e-5) << "sequence " << seq << " layer " << il << " head " << h;
        }
    }
}

class ForwardBatch : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        spec_.arch = GetParam();
        ref_ = build_tiny_model(spec_, writer_);
        model_ = load_from_writer(writer_, 3);
    }

    // Compare one batch with forward() per sequence, logits and caches.
    void expect_batch_matches(const std::vector<Sequence>& sequences) {
        std::vector<KvCache> expected_caches;
        const std::vector<std::vector<float>> expected = logits_one_by_one(*model_, sequences, &expected_caches);
        std::vector<KvCache> caches;
        const std::vector<float> batched = logits_batched(*model_, sequences, caches);

        ASSERT_EQ(batched.size(), sequences.size() * static_cast<size_t>(spec_.n_vocab));
        for (size_t i = 0; i < sequences.size(); ++i) {
            EXPECT_LT(relative_max_diff(row_of(batched, i, spec_.n_vocab), expected[i]), 1e-4)
                << "sequence " << i << " of " << sequences.size();
            expect_same_caches(caches[i], expected_caches[i], i);
        }
    }

    TinySpec spec_;
    GgufWriter writer_;
    RefWeights ref_;
    std::unique_ptr<Model> model_;
};

TEST_P(ForwardBatch, SingleSequenceEqualsForward) {
    expect_batch_matches(make_sequences(*model_, {30}, {9}, 1));
}

TEST_P(ForwardBatch, TwoSequencesMixedLengths) {
    expect_batch_matches(make_sequences(*model_, {25, 40}, {1, 17}, 2));
}

TEST_P(ForwardBatch, SevenSequencesRaggedCaches) {
    // Fresh, short, long and compacted caches; one-token and multi-block prompts
    const std::vector<Sequence> sequences =
        make_sequences(*model_, {0, 12, 50, 33, 1, 64, 20}, {5, 1, 40, 3, 70, 1, 33}, 3);
    int n_ragged = 0;
    for (const Sequence& s : sequences) {
        if (s.cache.max_length() > 0 && s.cache.total_rows() < s.cache.max_length() * spec_.n_head_kv * spec_.n_layer) {
            ++n_ragged;
        }
    }
    ASSERT_GE(n_ragged, 2) << "the batch should hold caches whose heads differ in length";
    expect_batch_matches(sequences);
}

TEST_P(ForwardBatch, DecodeStepsEqualForward) {
    // A prompt step, then one-token steps feeding each sequence's argmax back
    std::vector<Sequence> sequences = make_sequences(*model_, {20, 35, 0, 41, 10}, {4, 8, 6, 1, 12}, 4);
    std::vector<KvCache> expected_caches;
    std::vector<KvCache> caches;
    for (const Sequence& s : sequences) {
        expected_caches.push_back(s.cache);
        caches.push_back(s.cache);
    }

    const int n_vocab = spec_.n_vocab;
    std::vector<std::vector<int32_t>> step_tokens;
    for (const Sequence& s : sequences) step_tokens.push_back(s.tokens);
    for (int step = 0; step < 6; ++step) {
        std::vector<std::span<const int32_t>> tokens;
        std::vector<KvCache*> cache_ptrs;
        for (size_t i = 0; i < sequences.size(); ++i) {
            tokens.emplace_back(step_tokens[i]);
            cache_ptrs.push_back(&caches[i]);
        }
        std::vector<float> batched;
        model_->forward_batch(tokens, cache_ptrs, &batched);

        for (size_t i = 0; i < sequences.size(); ++i) {
            std::vector<float> expected;
            model_->forward(step_tokens[i], expected_caches[i], ForwardOptions{}, &expected);
            const std::vector<float> row = row_of(batched, i, n_vocab);
            EXPECT_LT(relative_max_diff(row, expected), 1e-4) << "step " << step << " sequence " << i;

            // Next token: the argmax of the reference, so both stay on one path
            const auto best = std::max_element(expected.begin(), expected.end()) - expected.begin();
            step_tokens[i] = {static_cast<int32_t>(best)};
        }
    }
    for (size_t i = 0; i < sequences.size(); ++i) expect_same_caches(caches[i], expected_caches[i], i);
}

TEST_P(ForwardBatch, BatchLongerThanOnePass) {
    // One sequence longer than a pass and others around it, so sequences are
    // split across passes and a pass ends inside one of them.
    const int n_long = static_cast<int>(kMaxBatchRows) + 300;
    expect_batch_matches(make_sequences(*model_, {5, 0, 16}, {40, n_long, static_cast<int>(kMaxBatchRows) - 20}, 5));
}

TEST_P(ForwardBatch, ScratchReuseAcrossBatchSizes) {
    // The model keeps its batch buffers between calls; shrinking and growing
    // batches must not read stale rows.
    expect_batch_matches(make_sequences(*model_, {10, 20, 30, 40, 12, 8, 3}, {3, 9, 1, 30, 2, 2, 7}, 6));
    expect_batch_matches(make_sequences(*model_, {15, 0}, {1, 1}, 7));
    expect_batch_matches(make_sequences(*model_, {10, 22, 30, 44, 12, 9, 3}, {8, 1, 1, 3, 21, 2, 7}, 8));
}

TEST_P(ForwardBatch, NullLogitsStillAppends) {
    std::vector<Sequence> sequences = make_sequences(*model_, {10, 3}, {4, 6}, 9);
    std::vector<KvCache> expected_caches;
    logits_one_by_one(*model_, sequences, &expected_caches);

    std::vector<KvCache> caches = {sequences[0].cache, sequences[1].cache};
    const std::vector<std::span<const int32_t>> tokens = {sequences[0].tokens, sequences[1].tokens};
    const std::vector<KvCache*> cache_ptrs = {&caches[0], &caches[1]};
    model_->forward_batch(tokens, cache_ptrs, nullptr);
    expect_same_caches(caches[0], expected_caches[0], 0);
    expect_same_caches(caches[1], expected_caches[1], 1);
}

TEST_P(ForwardBatch, ReservedCacheKeepsItsStorage) {
    // A compacted cache has no spare room; reserve() gives it room for the
    // batch's rows, so appending them moves nothing.
    std::vector<Sequence> sequences = make_sequences(*model_, {30, 30}, {6, 1}, 10);
    std::vector<KvCache> caches = {sequences[0].cache, sequences[1].cache};
    std::vector<const float*> keys_before;
    for (KvCache& cache : caches) {
        cache.reserve(6);
        keys_before.push_back(cache.keys(1, 1).data());
    }

    const std::vector<std::span<const int32_t>> tokens = {sequences[0].tokens, sequences[1].tokens};
    const std::vector<KvCache*> cache_ptrs = {&caches[0], &caches[1]};
    model_->forward_batch(tokens, cache_ptrs, nullptr);
    EXPECT_EQ(caches[0].keys(1, 1).data(), keys_before[0]);
    EXPECT_EQ(caches[1].keys(1, 1).data(), keys_before[1]);
    EXPECT_EQ(caches[0].length(1, 1), sequences[0].cache.length(1, 1) + 6);
}

INSTANTIATE_TEST_SUITE_P(Archs, ForwardBatch, ::testing::Values("llama", "qwen2"));

// ---- Rejected input ----

class ForwardBatchErrors : public ::testing::Test {
protected:
    void SetUp() override {
        build_tiny_model(spec_, writer_);
        model_ = load_from_writer(writer_, 2);
        for (int i = 0; i < 3; ++i) {
            caches_.push_back(model_->make_cache());
            model_->forward(sample_tokens(5 + i, spec_.n_vocab, 40 + static_cast<uint64_t>(i)), caches_.back(),
                            ForwardOptions{}, nullptr);
        }
        prompts_ = {sample_tokens(3, spec_.n_vocab, 50), sample_tokens(4, spec_.n_vocab, 51),
                    sample_tokens(2, spec_.n_vocab, 52)};
    }

    // The message of the std::invalid_argument forward_batch throws, or "".
    std::string batch_error(const std::vector<std::span<const int32_t>>& tokens,
                            const std::vector<KvCache*>& caches) {
        std::vector<float> logits(7, 1.0f);
        try {
            model_->forward_batch(tokens, caches, &logits);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    }

    void expect_caches_unchanged() {
        for (size_t i = 0; i < caches_.size(); ++i) {
            EXPECT_EQ(caches_[i].next_pos(), static_cast<int64_t>(5 + i)) << "cache " << i;
            EXPECT_EQ(caches_[i].max_length(), static_cast<int64_t>(5 + i)) << "cache " << i;
        }
    }

    std::vector<std::span<const int32_t>> all_tokens() const {
        return {prompts_[0], prompts_[1], prompts_[2]};
    }
    std::vector<KvCache*> all_caches() { return {&caches_[0], &caches_[1], &caches_[2]}; }

    TinySpec spec_;
    GgufWriter writer_;
    std::unique_ptr<Model> model_;
    std::vector<KvCache> caches_;
    std::vector<std::vector<int32_t>> prompts_;
};

void expect_contains(const std::string& message, const std::string& part) {
    EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected to contain: " << part;
}

TEST_F(ForwardBatchErrors, CountMismatchNamesBothCounts) {
    std::vector<KvCache*> caches = all_caches();
    caches.pop_back();
    const std::string message = batch_error(all_tokens(), caches);
    ASSERT_FALSE(message.empty()) << "3 token lists with 2 caches were accepted";
    expect_contains(message, "3 token lists");
    expect_contains(message, "2 KV caches");
    expect_caches_unchanged();
}

TEST_F(ForwardBatchErrors, EmptyTokenListNamesSequence) {
    std::vector<std::span<const int32_t>> tokens = all_tokens();
    tokens[2] = {};
    const std::string message = batch_error(tokens, all_caches());
    ASSERT_FALSE(message.empty()) << "a sequence without tokens was accepted";
    expect_contains(message, "sequence 2 has no tokens");
    expect_caches_unchanged();
}

TEST_F(ForwardBatchErrors, WrongCacheShapeNamesSequence) {
    KvCache wrong(spec_.n_layer + 1, spec_.n_head_kv, spec_.n_embd / spec_.n_head);
    std::vector<KvCache*> caches = all_caches();
    caches[1] = &wrong;
    const std::string message = batch_error(all_tokens(), caches);
    ASSERT_FALSE(message.empty()) << "a cache with an extra layer was accepted";
    expect_contains(message, "sequence 1");
    expect_contains(message, "3 layers");
    expect_contains(message, "Model::make_cache()");
    expect_caches_unchanged();
}

TEST_F(ForwardBatchErrors, NullCacheNamesSequence) {
    std::vector<KvCache*> caches = all_caches();
    caches[0] = nullptr;
    const std::string message = batch_error(all_tokens(), caches);
    ASSERT_FALSE(message.empty()) << "a null cache was accepted";
    expect_contains(message, "sequence 0 has a null KV cache");
    expect_caches_unchanged();
}

TEST_F(ForwardBatchErrors, SharedCacheNamesBothSequences) {
    std::vector<KvCache*> caches = all_caches();
    caches[2] = caches[0];
    const std::string message = batch_error(all_tokens(), caches);
    ASSERT_FALSE(message.empty()) << "two sequences on one cache were accepted";
    expect_contains(message, "sequences 0 and 2 share one KV cache");
    expect_caches_unchanged();
}

TEST_F(ForwardBatchErrors, BadTokenIdNamesSequenceAndIndex) {
    std::vector<int32_t> bad = prompts_[1];
    bad[2] = spec_.n_vocab;
    std::vector<std::span<const int32_t>> tokens = all_tokens();
    tokens[1] = bad;
    const std::string message = batch_error(tokens, all_caches());
    ASSERT_FALSE(message.empty()) << "token id n_vocab was accepted";
    expect_contains(message, "sequence 1");
    expect_contains(message, "token id 64 at index 2");
    expect_caches_unchanged();
}

TEST_F(ForwardBatchErrors, EmptyBatchClearsLogits) {
    std::vector<float> logits(5, 1.0f);
    model_->forward_batch({}, {}, &logits);
    EXPECT_TRUE(logits.empty());
}

}  // namespace
}  // namespace compactor::test
