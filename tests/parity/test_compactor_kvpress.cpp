// compactor-test-libs: compactor_compress
//
// Parity of the Compactor scorer with kvpress 0.5.4 CompactorPress on one
// layer (10) of SmolLM2-135M-Instruct, from tests/golden/kvpress_compactor.*
// written by tools/kvpress_golden.py. The golden file contains the layer's
// post-RoPE queries and keys, pre-RoPE keys and values (GGUF dimension
// order), the sketch kvpress drew (rows permuted into that order), kvpress's
// z-scored parts, blended scores and kept token indices.
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

#include "compress/compactor_scorer.h"
#include "compress/compressor.h"
#include "kv/kv_cache.h"
#include "support/paths.h"

namespace compactor {
namespace {

using nlohmann::json;

constexpr double kScoreTolerance = 1e-3;

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
    std::ifstream meta_file(test::golden_path("kvpress_compactor.json"));
    if (!meta_file) throw std::runtime_error("missing kvpress_compactor.json; run tools/kvpress_golden.py");
    g.meta = json::parse(meta_file);
    std::ifstream bin(test::golden_path("kvpress_compactor.bin"), std::ios::binary);
    if (!bin) throw std::runtime_error("missing kvpress_compactor.bin; run tools/kvpress_golden.py");
    g.blob.assign(std::istreambuf_iterator<char>(bin), std::istreambuf_iterator<char>());
    return g;
}

// kvpress's CompactorPress settings, named one by one.
CompressionOptions kvpress_options(const Golden& g, int attn_chunk, BudgetMode budget) {
    CompressionOptions o;
    o.method = "compactor";
    o.ratio = g.meta.at("ratio").get<double>();
    o.blend = g.meta.at("blend").get<double>();  // kvpress: λ = ratio
    o.sketch_dim = g.meta.at("sketch_dim").get<int>();
    o.attn_chunk = attn_chunk;
    o.sink = g.meta.at("sink").get<int>();
    o.recent = g.meta.at("recent").get<int>();
    o.budget = budget;
    o.head_floor = g.meta.at("head_floor").get<double>();
    o.leverage_window = 0;
    o.value_weighting = true;
    return o;
}

struct Layer {
    ModelShape shape;
    int64_t n_tokens = 0;
    std::vector<float> q_rope, k_raw, k_rope, v;
};

Layer load_layer(const Golden& g) {
    Layer l;
    l.shape = {1, g.meta.at("n_head").get<int>(), g.meta.at("n_head_kv").get<int>(), g.meta.at("head_dim").get<int>()};
    l.n_tokens = g.meta.at("n_tokens").get<int64_t>();
    l.q_rope = g.array("q_rope");
    l.k_raw = g.array("k_raw");
    l.k_rope = g.array("k_rope");
    l.v = g.array("v");
    return l;
}

// Feed the layer as layer 0 in prefill chunks of `step` tokens, which need
// not line up with the attention chunks.
void feed(Scorer& scorer, const Layer& l, int64_t step) {
    const size_t q_width = static_cast<size_t>(l.shape.n_head) * l.shape.head_dim;
    const size_t kv_width = static_cast<size_t>(l.shape.n_head_kv) * l.shape.head_dim;
    for (int64_t t0 = 0; t0 < l.n_tokens; t0 += step) {
        LayerChunk c;
        c.il = 0;
        c.pos0 = t0;
        c.n_tokens = std::min(step, l.n_tokens - t0);
        c.n_head = l.shape.n_head;
        c.n_head_kv = l.shape.n_head_kv;
        c.head_dim = l.shape.head_dim;
        c.q_rope = l.q_rope.data() + static_cast<size_t>(t0) * q_width;
        c.k_raw = l.k_raw.data() + static_cast<size_t>(t0) * kv_width;
        c.k_rope = l.k_rope.data() + static_cast<size_t>(t0) * kv_width;
        c.v = l.v.data() + static_cast<size_t>(t0) * kv_width;
        scorer.observe(c);
    }
}

void inject_sketch(CompactorScorer& scorer, const Golden& g, const std::string& run, const Layer& l) {
    const std::vector<float> phi = g.array(run + "/phi");  // [n_head_kv × head_dim × sketch_dim]
    const size_t per_head = phi.size() / static_cast<size_t>(l.shape.n_head_kv);
    for (int h = 0; h < l.shape.n_head_kv; ++h) {
        scorer.leverage().set_sketch(0, h, std::span<const float>(phi.data() + h * per_head, per_head));
    }
}

// Largest |ours − kvpress| over the scored tokens; golden [n_head_kv × n_scored]
// when `golden_scored_only`, else [n_head_kv × n_tokens].
double max_difference(const std::vector<float>& ours, const std::vector<float>& golden, const Layer& l, int sink,
                      int recent, bool golden_scored_only) {
    const int64_t n_scored = l.n_tokens - sink - recent;
    double worst = 0.0;
    for (int h = 0; h < l.shape.n_head_kv; ++h) {
        for (int64_t i = 0; i < n_scored; ++i) {
            const double a = ours[static_cast<size_t>(h * l.n_tokens + sink + i)];
            const size_t gi = golden_scored_only ? static_cast<size_t>(h * n_scored + i)
                                                 : static_cast<size_t>(h * l.n_tokens + sink + i);
            worst = std::max(worst, std::abs(a - static_cast<double>(golden[gi])));
        }
    }
    return worst;
}

void expect_kept_sets_equal(const CompressionOptions& options, Scorer& scorer, const Layer& l,
                            const json& golden_kept) {
    KvCache cache(1, l.shape.n_head_kv, l.shape.head_dim);
    cache.append(0, l.k_rope.data(), l.v.data(), l.n_tokens, 0);
    cache.advance(l.n_tokens);

    const CompressionReport report = compress(cache, &scorer, options);
    EXPECT_FALSE(report.skipped);

    for (int h = 0; h < l.shape.n_head_kv; ++h) {
        const std::vector<int64_t> expected = golden_kept.at(static_cast<size_t>(h)).get<std::vector<int64_t>>();
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

class CompactorKvpress : public ::testing::TestWithParam<int> {};

TEST_P(CompactorKvpress, PerHeadScoresAndKeptSets) {
    const Golden g = load_golden();
    const Layer l = load_layer(g);
    const int attn_chunk = GetParam();
    const std::string run = "chunk" + std::to_string(attn_chunk);
    const CompressionOptions options = kvpress_options(g, attn_chunk, BudgetMode::per_head);

    CompactorScorer scorer(options, l.shape);
    inject_sketch(scorer, g, run, l);
    feed(scorer, l, 100);
    const ScoreSet blended = scorer.finalize(KvCache{});

    const double lev = max_difference(scorer.leverage_scores().scores[0], g.array(run + "/leverage"), l,
                                      options.sink, options.recent, true);
    const double att = max_difference(scorer.attention_scores().scores[0], g.array(run + "/attention"), l,
                                      options.sink, options.recent, true);
    const double mix = max_difference(blended.scores[0], g.array(run + "/blended"), l, options.sink,
                                      options.recent, false);
    std::printf("chunk %d: max |z difference| leverage %.3g, attention %.3g, blended %.3g\n", attn_chunk, lev, att,
                mix);
    EXPECT_LT(lev, kScoreTolerance);
    EXPECT_LT(att, kScoreTolerance);
    EXPECT_LT(mix, kScoreTolerance);

    for (const json& r : g.meta.at("runs")) {
        if (r.at("chunk").get<int>() == attn_chunk && r.at("budget") == "per_head") {
            expect_kept_sets_equal(options, scorer, l, r.at("kept"));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AttnChunk, CompactorKvpress, ::testing::Values(256, 128));

// AdaKVPress(CompactorPress) selects over all heads of the layer with a
// 0.2 floor per head, like the per_layer budget.
TEST(CompactorKvpressAdaKv, PerLayerKeptSets) {
    const Golden g = load_golden();
    const Layer l = load_layer(g);
    const CompressionOptions options = kvpress_options(g, 256, BudgetMode::per_layer);

    CompactorScorer scorer(options, l.shape);
    inject_sketch(scorer, g, "chunk256", l);
    feed(scorer, l, 64);

    bool found = false;
    for (const json& r : g.meta.at("runs")) {
        if (r.at("budget") == "per_layer") {
            found = true;
            expect_kept_sets_equal(options, scorer, l, r.at("kept"));
        }
    }
    EXPECT_TRUE(found) << "kvpress_compactor.json has no per_layer run";
}

}  // namespace
}  // namespace compactor
