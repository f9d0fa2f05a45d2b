// compactor-test-libs: compactor_compress
//
// Parity of the expected_attention scorer with kvpress 0.5.4
// ExpectedAttentionPress on one layer (10) of SmolLM2-135M-Instruct, from
// tests/golden/kvpress_expected_attention.* written by
// tools/kvpress_query_stats_golden.py. The golden file contains the layer's
// pre-RoPE queries, post-RoPE keys and values (GGUF dimension order), the
// query statistics kvpress computed after its averaged RoPE rotation, its
// scores and its kept token indices per KV head.
//
// The queries are in the GGUF order, where normal-mode RoPE pairs dimensions
// 2i and 2i + 1, while kvpress rotates the Hugging Face order, which pairs i
// with i + head_dim/2. Equal statistics therefore also check that the
// averaged rotation pairs dimensions as the model does.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compress/compressor.h"
#include "compress/expected_attention_scorer.h"
#include "kv/kv_cache.h"
#include "support/paths.h"

namespace compactor {
namespace {

using nlohmann::json;

struct Golden {
    json meta;
    std::vector<char> blob;

    // The float32 array `name`, flattened.
    std::vector<float> array(const std::string& name) const {
        const json& entry = meta.at("arrays").at(name);
        size_t count = 1;
        for (const json& dim : entry.at("shape")) count *= dim.get<size_t>();
        const size_t offset = entry.at("offset").get<size_t>();
        if (offset + count * sizeof(float) > blob.size()) {
            throw std::runtime_error("golden array " + name + " runs past the end of the .bin file");
        }
        std::vector<float> out(count);
        std::copy_n(blob.data() + offset, count * sizeof(float), reinterpret_cast<char*>(out.data()));
        return out;
    }
};

Golden load_golden() {
    Golden g;
    std::ifstream meta_file(test::golden_path("kvpress_expected_attention.json"));
    if (!meta_file) throw std::runtime_error("missing kvpress_expected_attention.json; run tools/kvpress_query_stats_golden.py");
    g.meta = json::parse(meta_file);
    std::ifstream bin(test::golden_path("kvpress_expected_attention.bin"), std::ios::binary);
    if (!bin) throw std::runtime_error("missing kvpress_expected_attention.bin; run tools/kvpress_query_stats_golden.py");
    g.blob.assign(std::istreambuf_iterator<char>(bin), std::istreambuf_iterator<char>());
    return g;
}

// SmolLM2's layer 10 as a one-layer model, with the model's RoPE.
ModelShape golden_shape(const Golden& g) {
    ModelShape shape;
    shape.n_layer = 1;
    shape.n_head = g.meta.at("n_head").get<int>();
    shape.n_head_kv = g.meta.at("n_head_kv").get<int>();
    shape.head_dim = g.meta.at("head_dim").get<int>();
    shape.n_rot = shape.head_dim;
    shape.rope_mode = RopeMode::normal;
    shape.rope_freq_base = g.meta.at("rope_freq_base").get<float>();
    return shape;
}

// kvpress's settings: its n_sink is our sink, and it has no recent window.
CompressionOptions kvpress_options(const Golden& g) {
    CompressionOptions o;
    o.method = "expected_attention";
    o.ratio = g.meta.at("ratio").get<double>();
    o.sink = g.meta.at("n_sink").get<int>();
    o.recent = 0;
    o.budget = BudgetMode::per_head;
    o.n_future_positions = g.meta.at("n_future_positions").get<int>();
    o.epsilon = g.meta.at("epsilon").get<double>();
    o.value_weighting = true;  // kvpress's use_vnorm default
    return o;
}

struct Layer {
    int64_t n_tokens = 0;
    std::vector<float> q_raw, k_rope, v;
};

// Feed the layer as layer 0 in prefill chunks of `step` tokens and return
// the cache of the same tokens.
KvCache feed(ExpectedAttentionScorer& scorer, const ModelShape& shape, const Layer& l, int64_t step) {
    const size_t q_width = static_cast<size_t>(shape.n_head) * shape.head_dim;
    const size_t kv_width = static_cast<size_t>(shape.n_head_kv) * shape.head_dim;
    for (int64_t t0 = 0; t0 < l.n_tokens; t0 += step) {
        LayerChunk c;
        c.il = 0;
        c.pos0 = t0;
        c.n_tokens = std::min(step, l.n_tokens - t0);
        c.n_head = shape.n_head;
        c.n_head_kv = shape.n_head_kv;
        c.head_dim = shape.head_dim;
        c.q_raw = l.q_raw.data() + static_cast<size_t>(t0) * q_width;
        c.k_rope = l.k_rope.data() + static_cast<size_t>(t0) * kv_width;
        c.v = l.v.data() + static_cast<size_t>(t0) * kv_width;
        scorer.observe(c);
    }
    KvCache cache(1, shape.n_head_kv, shape.head_dim);
    cache.append(0, l.k_rope.data(), l.v.data(), l.n_tokens, 0);
    cache.advance(l.n_tokens);
    return cache;
}

class ExpectedAttentionKvpress : public ::testing::Test {
protected:
    void SetUp() override {
        golden_ = load_golden();
        shape_ = golden_shape(golden_);
        options_ = kvpress_options(golden_);
        layer_.n_tokens = golden_.meta.at("n_tokens").get<int64_t>();
        layer_.q_raw = golden_.array("q_raw");
        layer_.k_rope = golden_.array("k_rope");
        layer_.v = golden_.array("v");
    }

    Golden golden_;
    ModelShape shape_;
    CompressionOptions options_;
    Layer layer_;
};

TEST_F(ExpectedAttentionKvpress, RotatedStatisticsMatch) {
    ExpectedAttentionScorer scorer(options_, shape_);
    feed(scorer, shape_, layer_, 128);
    const AverageRotation rotation =
        average_rope_rotation(shape_, layer_.n_tokens, options_.n_future_positions);

    const std::vector<float> mean = golden_.array("mean");              // [n_head × d]
    const std::vector<float> covariance = golden_.array("covariance");  // [n_head × d × d]
    const size_t d = static_cast<size_t>(shape_.head_dim);
    double worst_mean = 0.0, worst_cov = 0.0, largest_cov = 0.0;
    for (int hq = 0; hq < shape_.n_head; ++hq) {
        ExpectedAttentionScorer::QueryStatistics stats = scorer.query_statistics(0, hq);
        ASSERT_EQ(stats.n_queries, layer_.n_tokens - options_.sink);
        rotate_query_statistics(shape_, rotation, stats.mean, stats.covariance);
        for (size_t i = 0; i < d; ++i) {
            worst_mean = std::max(worst_mean, std::abs(stats.mean[i] - mean[static_cast<size_t>(hq) * d + i]));
        }
        for (size_t i = 0; i < d * d; ++i) {
            const double expected = covariance[static_cast<size_t>(hq) * d * d + i];
            worst_cov = std::max(worst_cov, std::abs(stats.covariance[i] - expected));
            largest_cov = std::max(largest_cov, std::abs(expected));
        }
    }
    std::printf("max |difference|: rotated mean %.3g, rotated covariance %.3g (largest entry %.3g)\n", worst_mean,
                worst_cov, largest_cov);
    EXPECT_LT(worst_mean, 2e-5);
    EXPECT_LT(worst_cov, 1e-4 * largest_cov);
}

TEST_F(ExpectedAttentionKvpress, ScoresMatch) {
    ExpectedAttentionScorer scorer(options_, shape_);
    const KvCache cache = feed(scorer, shape_, layer_, 100);
    const ScoreSet scores = scorer.finalize(cache);

    // kvpress pads its sink with the maximum; compare the scored tokens.
    const std::vector<float> golden = golden_.array("scores");  // [n_head_kv × n_tokens]
    const int64_t n = layer_.n_tokens;
    double worst_relative = 0.0;
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        for (int64_t t = options_.sink; t < n; ++t) {
            const size_t i = static_cast<size_t>(h * n + t);
            const double expected = golden[i];
            ASSERT_GT(expected, 0.0);
            worst_relative = std::max(worst_relative, std::abs(scores.scores[0][i] - expected) / expected);
        }
    }
    std::printf("max relative score difference %.3g\n", worst_relative);
    EXPECT_LT(worst_relative, 1e-5);
}

TEST_F(ExpectedAttentionKvpress, PerHeadKeptSetsMatch) {
    ExpectedAttentionScorer scorer(options_, shape_);
    KvCache cache = feed(scorer, shape_, layer_, 64);
    const CompressionReport report = compress(cache, &scorer, options_);
    EXPECT_FALSE(report.skipped);

    const json& kept = golden_.meta.at("kept");
    ASSERT_EQ(kept.size(), static_cast<size_t>(shape_.n_head_kv));
    for (int h = 0; h < shape_.n_head_kv; ++h) {
        const std::vector<int64_t> expected = kept.at(static_cast<size_t>(h)).get<std::vector<int64_t>>();
        const std::span<const int32_t> pos = cache.positions(0, h);
        const std::vector<int64_t> ours(pos.begin(), pos.end());
        std::vector<int64_t> only_ours, only_kvpress;
        std::set_difference(ours.begin(), ours.end(), expected.begin(), expected.end(), std::back_inserter(only_ours));
        std::set_difference(expected.begin(), expected.end(), ours.begin(), ours.end(),
                            std::back_inserter(only_kvpress));
        std::printf("head %d: kept %zu (kvpress %zu), %zu only here, %zu only in kvpress\n", h, ours.size(),
                    expected.size(), only_ours.size(), only_kvpress.size());
        EXPECT_EQ(ours, expected) << "kept set of head " << h;
    }
}

}  // namespace
}  // namespace compactor
