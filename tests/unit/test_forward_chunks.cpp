// compactor-test-libs: compactor_model
// Chunked prefill, decode after prefill, and the prefill observer.
#include <gtest/gtest.h>

#include <vector>

#include "model/prefill_observer.h"
#include "test_forward_model.h"

namespace compactor::test {
namespace {

std::vector<float> run(const Model& model, const std::vector<int32_t>& tokens, int64_t chunk_size,
                       bool all_logits, KvCache* cache_out = nullptr) {
    KvCache cache = model.make_cache();
    ForwardOptions options;
    options.chunk_size = chunk_size;
    options.all_logits = all_logits;
    std::vector<float> logits;
    model.forward(tokens, cache, options, &logits);
    if (cache_out != nullptr) *cache_out = cache;
    return logits;
}

class ForwardChunks : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        spec_.arch = GetParam();
        spec_.weight_type = GgmlType::Q8_0;
        ref_ = build_tiny_model(spec_, writer_);
        model_ = load_from_writer(writer_);
        tokens_ = sample_tokens(20, spec_.n_vocab, 11);
    }

    TinySpec spec_;
    GgufWriter writer_;
    RefWeights ref_;
    std::unique_ptr<Model> model_;
    std::vector<int32_t> tokens_;
};

TEST_P(ForwardChunks, ChunkedEqualsSingleChunk) {
    KvCache single_cache;
    const std::vector<float> single = run(*model_, tokens_, 512, true, &single_cache);
    for (int64_t chunk : {1, 3, 7, 19}) {
        KvCache chunked_cache;
        const std::vector<float> chunked = run(*model_, tokens_, chunk, true, &chunked_cache);
        ASSERT_EQ(chunked.size(), single.size());
        EXPECT_LT(relative_max_diff(chunked, single), 1e-5) << "chunk_size " << chunk;
        EXPECT_EQ(chunked_cache.next_pos(), single_cache.next_pos());
        for (int il = 0; il < spec_.n_layer; ++il) {
            const auto a = chunked_cache.keys(il, 1);
            const auto b = single_cache.keys(il, 1);
            ASSERT_EQ(a.size(), b.size());
            for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5);
        }
    }
}

TEST_P(ForwardChunks, ThreadCountDoesNotChangeLogits) {
    const auto single_thread = load_from_writer(writer_, 1);
    const auto three_threads = load_from_writer(writer_, 3);
    const std::vector<float> expected = run(*model_, tokens_, 6, true);
    EXPECT_LT(relative_max_diff(run(*single_thread, tokens_, 6, true), expected), 1e-5);
    EXPECT_LT(relative_max_diff(run(*three_threads, tokens_, 6, true), expected), 1e-5);
}

TEST_P(ForwardChunks, LastLogitsEqualAllLogitsTail) {
    const std::vector<float> all = run(*model_, tokens_, 7, true);
    const std::vector<float> last = run(*model_, tokens_, 7, false);
    ASSERT_EQ(last.size(), static_cast<size_t>(spec_.n_vocab));
    const std::vector<float> tail(all.end() - spec_.n_vocab, all.end());
    EXPECT_LT(relative_max_diff(last, tail), 1e-6);
}

TEST_P(ForwardChunks, DecodeAfterPrefillEqualsLongerPrefill) {
    const std::vector<float> expected = run(*model_, tokens_, 512, false);

    KvCache cache = model_->make_cache();
    const std::vector<int32_t> prefix(tokens_.begin(), tokens_.end() - 3);
    model_->forward(prefix, cache, ForwardOptions{}, nullptr);
    std::vector<float> logits;
    for (size_t t = prefix.size(); t < tokens_.size(); ++t) {
        model_->forward(std::span<const int32_t>(&tokens_[t], 1), cache, ForwardOptions{}, &logits);
    }

    ASSERT_EQ(logits.size(), expected.size());
    EXPECT_LT(relative_max_diff(logits, expected), 1e-5);
    EXPECT_EQ(cache.next_pos(), static_cast<int64_t>(tokens_.size()));
}

INSTANTIATE_TEST_SUITE_P(Archs, ForwardChunks, ::testing::Values("llama", "qwen2"));

// Records copies of everything the forward pass shows it.
class RecordingObserver : public PrefillObserver {
public:
    struct Seen {
        LayerChunk chunk;
        std::vector<float> q_rope, k_raw, k_rope, v;
    };
    void observe(const LayerChunk& chunk) override {
        const auto n_q = static_cast<size_t>(chunk.n_tokens * chunk.n_head * chunk.head_dim);
        const auto n_kv = static_cast<size_t>(chunk.n_tokens * chunk.n_head_kv * chunk.head_dim);
        seen.push_back({chunk, {chunk.q_rope, chunk.q_rope + n_q}, {chunk.k_raw, chunk.k_raw + n_kv},
                        {chunk.k_rope, chunk.k_rope + n_kv}, {chunk.v, chunk.v + n_kv}});
    }
    std::vector<Seen> seen;
};

TEST_P(ForwardChunks, ObserverSeesEveryLayerOfEveryChunk) {
    RecordingObserver observer;
    KvCache cache = model_->make_cache();
    ForwardOptions options;
    options.chunk_size = 7;
    options.observer = &observer;
    model_->forward(tokens_, cache, options, nullptr);

    // 20 tokens in chunks of 7, 7, 6; layers in order within each chunk.
    const std::vector<int64_t> pos0s = {0, 7, 14};
    const std::vector<int64_t> sizes = {7, 7, 6};
    ASSERT_EQ(observer.seen.size(), pos0s.size() * static_cast<size_t>(spec_.n_layer));
    const int hd = ref_.head_dim;
    const bool neox = spec_.arch == "qwen2";
    for (size_t i = 0; i < observer.seen.size(); ++i) {
        const RecordingObserver::Seen& s = observer.seen[i];
        const size_t c = i / static_cast<size_t>(spec_.n_layer);
        EXPECT_EQ(s.chunk.il, static_cast<int>(i % static_cast<size_t>(spec_.n_layer)));
        EXPECT_EQ(s.chunk.pos0, pos0s[c]);
        EXPECT_EQ(s.chunk.n_tokens, sizes[c]);
        EXPECT_EQ(s.chunk.n_head, spec_.n_head);
        EXPECT_EQ(s.chunk.n_head_kv, spec_.n_head_kv);
        EXPECT_EQ(s.chunk.head_dim, hd);

        // k_rope is k_raw rotated at its position, and both k_rope and v are
        // what the cache stored for those positions.
        for (int64_t t = 0; t < s.chunk.n_tokens; ++t) {
            for (int h = 0; h < spec_.n_head_kv; ++h) {
                const size_t at = static_cast<size_t>((t * spec_.n_head_kv + h) * hd);
                std::vector<float> rotated(s.k_raw.begin() + static_cast<std::ptrdiff_t>(at),
                                           s.k_raw.begin() + static_cast<std::ptrdiff_t>(at) + hd);
                ref_rope(rotated.data(), hd, s.chunk.pos0 + t, spec_.rope_freq_base, neox);
                const size_t row = static_cast<size_t>((s.chunk.pos0 + t) * hd);
                for (int d = 0; d < hd; ++d) {
                    const size_t ud = static_cast<size_t>(d);
                    EXPECT_NEAR(s.k_rope[at + ud], rotated[ud], 1e-5);
                    EXPECT_EQ(s.k_rope[at + ud], cache.keys(s.chunk.il, h)[row + ud]);
                    EXPECT_EQ(s.v[at + ud], cache.values(s.chunk.il, h)[row + ud]);
                }
            }
        }
    }
}

TEST_P(ForwardChunks, ObserverQueriesMatchScalar) {
    RecordingObserver observer;
    KvCache cache = model_->make_cache();
    ForwardOptions options;
    options.chunk_size = 5;
    options.observer = &observer;
    model_->forward(tokens_, cache, options, nullptr);

    // Layer 0 queries depend only on the embedding, so the scalar reference
    // recomputes them directly.
    const RefLayer& l = ref_.layers[0];
    const int hd = ref_.head_dim;
    const bool neox = spec_.arch == "qwen2";
    for (const auto& s : observer.seen) {
        if (s.chunk.il != 0) continue;
        for (int64_t t = 0; t < s.chunk.n_tokens; ++t) {
            const int32_t token = tokens_[static_cast<size_t>(s.chunk.pos0 + t)];
            const std::vector<float> x(ref_.token_embd.begin() + token * spec_.n_embd,
                                       ref_.token_embd.begin() + (token + 1) * spec_.n_embd);
            std::vector<float> q = ref_matvec(l.wq, l.bq, ref_rms_norm(x, l.attn_norm, spec_.rms_norm_eps),
                                              static_cast<size_t>(spec_.n_head * hd));
            for (int h = 0; h < spec_.n_head; ++h) {
                ref_rope(q.data() + h * hd, hd, s.chunk.pos0 + t, spec_.rope_freq_base, neox);
            }
            for (size_t i = 0; i < q.size(); ++i) {
                EXPECT_NEAR(s.q_rope[static_cast<size_t>(t) * q.size() + i], q[i], 1e-4);
            }
        }
    }
}

}  // namespace
}  // namespace compactor::test
