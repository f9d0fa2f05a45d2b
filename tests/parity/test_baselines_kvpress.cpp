// compactor-test-libs: compactor_compress
//
// Parity of the baseline scorers with kvpress 0.5.4 (KnormPress, KeyDiffPress,
// StreamingLLMPress, SnapKVPress, PyramidKVPress, TOVAPress) and of exact
// leverage with numpy, on layer 10 of SmolLM2-135M-Instruct, from
// tests/golden/kvpress_baselines.* written by tools/kvpress_baselines_golden.py.
// The golden file contains the layer's pre-RoPE and post-RoPE keys, the
// post-RoPE queries of the last 64 tokens, each press's scores before
// selection and the tokens each press keeps at ratio 0.5 per KV head.
//
// The presses protect no tokens (StreamingLLMPress its first 4), so sink and
// recent are set to match and the kept sets must be identical.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compress/compressor.h"
#include "compress/exact_leverage_scorer.h"
#include "compress/pyramidkv_scorer.h"
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

const Golden& golden() {
    static const Golden g = [] {
        Golden loaded;
        std::ifstream meta_file(test::golden_path("kvpress_baselines.json"));
        if (!meta_file) {
            throw std::runtime_error("missing kvpress_baselines.json; run tools/kvpress_baselines_golden.py");
        }
        loaded.meta = json::parse(meta_file);
        std::ifstream bin(test::golden_path("kvpress_baselines.bin"), std::ios::binary);
        if (!bin) {
            throw std::runtime_error("missing kvpress_baselines.bin; run tools/kvpress_baselines_golden.py");
        }
        loaded.blob.assign(std::istreambuf_iterator<char>(bin), std::istreambuf_iterator<char>());
        return loaded;
    }();
    return g;
}

// Layer 10's inputs. Queries before the last `window` tokens are NaN: no
// scorer may read them.
struct Layer {
    ModelShape shape;
    int64_t n_tokens = 0;
    std::vector<float> q_rope, k_raw, k_rope, v;
};

Layer load_layer(const Golden& g, int n_layer) {
    Layer l;
    l.shape = {n_layer, g.meta.at("n_head").get<int>(), g.meta.at("n_head_kv").get<int>(),
               g.meta.at("head_dim").get<int>()};
    l.n_tokens = g.meta.at("n_tokens").get<int64_t>();
    const size_t q_width = static_cast<size_t>(l.shape.n_head) * l.shape.head_dim;
    const std::vector<float> window = g.array("q_window");
    l.q_rope.assign(static_cast<size_t>(l.n_tokens) * q_width, std::numeric_limits<float>::quiet_NaN());
    std::copy(window.begin(), window.end(), l.q_rope.end() - static_cast<std::ptrdiff_t>(window.size()));
    l.k_raw = g.array("k_raw");
    l.k_rope = g.array("k_rope");
    l.v.assign(l.k_rope.size(), 0.0f);  // no baseline reads values
    return l;
}

// The layer's data as every layer of the model, fed in prefill chunks of
// `step` tokens, and the cache the prefill leaves.
KvCache prefill(Scorer& scorer, const Layer& l, int64_t step) {
    const size_t q_width = static_cast<size_t>(l.shape.n_head) * l.shape.head_dim;
    const size_t kv_width = static_cast<size_t>(l.shape.n_head_kv) * l.shape.head_dim;
    for (int64_t t0 = 0; t0 < l.n_tokens; t0 += step) {
        for (int il = 0; il < l.shape.n_layer; ++il) {
            LayerChunk c;
            c.il = il;
            c.pos0 = t0;
            c.n_tokens = std::min(step, l.n_tokens - t0);
            c.n_head = l.shape.n_head;
            c.n_head_kv = l.shape.n_head_kv;
            c.head_dim = l.shape.head_dim;
            c.q_raw = c.q_rope = l.q_rope.data() + static_cast<size_t>(t0) * q_width;
            c.k_raw = l.k_raw.data() + static_cast<size_t>(t0) * kv_width;
            c.k_rope = l.k_rope.data() + static_cast<size_t>(t0) * kv_width;
            c.v = l.v.data() + static_cast<size_t>(t0) * kv_width;
            scorer.observe(c);
        }
    }
    KvCache cache(l.shape.n_layer, l.shape.n_head_kv, l.shape.head_dim);
    for (int il = 0; il < l.shape.n_layer; ++il) cache.append(il, l.k_rope.data(), l.v.data(), l.n_tokens, 0);
    cache.advance(l.n_tokens);
    return cache;
}

// Largest |ours − golden| / max(1, |golden|) over one layer [n_head_kv × n_tokens].
double max_difference(const std::vector<float>& ours, const std::vector<float>& expected) {
    EXPECT_EQ(ours.size(), expected.size());
    double worst = 0.0;
    for (size_t i = 0; i < std::min(ours.size(), expected.size()); ++i) {
        const double e = expected[i];
        worst = std::max(worst, std::abs(ours[i] - e) / std::max(1.0, std::abs(e)));
    }
    return worst;
}

void expect_kept_sets_equal(const KvCache& cache, int il, const json& golden_kept) {
    for (int h = 0; h < cache.n_head_kv(); ++h) {
        const std::vector<int64_t> expected = golden_kept.at(static_cast<size_t>(h)).get<std::vector<int64_t>>();
        const std::span<const int32_t> pos = cache.positions(il, h);
        const std::vector<int64_t> ours(pos.begin(), pos.end());
        std::vector<int64_t> only_ours;
        std::set_difference(ours.begin(), ours.end(), expected.begin(), expected.end(), std::back_inserter(only_ours));
        std::printf("  head %d: kept %zu (reference %zu), %zu differ\n", h, ours.size(), expected.size(),
                    only_ours.size());
        EXPECT_EQ(ours, expected) << "kept set of head " << h;
    }
}

struct Case {
    const char* method;
    int sink;
    int recent;
    // Largest accepted score difference, relative to max(1, |score|), or a
    // negative value where kvpress's scores are not comparable.
    double tolerance;
};

// Tolerances: ours and kvpress's read the same float32 inputs, so scores
// differ only by summation order, the float exponential of the window
// attention (about 2e-7 relative) and float32 rounding of the outputs. The
// differences measured are at most 3e-7, so 1e-5 leaves a margin of 30.
const Case kCases[] = {
    {"knorm", 0, 0, 1e-5},
    {"keydiff", 0, 0, 1e-5},
    {"snapkv", 0, 0, 1e-5},
    {"pyramidkv", 0, 0, 1e-5},
    {"tova", 0, 0, 1e-5},
    // StreamingLLMPress scores 1 or 0; ours score by position.
    {"streaming_llm", 4, 0, -1.0},
    // Against numpy in float64, which the double Cholesky path matches to
    // float32 rounding (measured 2e-7).
    {"exact_leverage", 8, 4, 1e-5},
};

// Names the case in gtest's failure messages.
void PrintTo(const Case& c, std::ostream* os) { *os << c.method; }

class BaselinesKvpress : public ::testing::TestWithParam<Case> {};

TEST_P(BaselinesKvpress, ScoresAndKeptSets) {
    const Case c = GetParam();
    const Golden& g = golden();
    const std::string method = c.method;
    const bool pyramid = method == "pyramidkv";
    const int layer = g.meta.at("layer").get<int>();
    // PyramidKV budgets depend on the layer index, so the data runs as every
    // layer of the real model's depth and layer 10 is checked.
    const Layer l = load_layer(g, pyramid ? g.meta.at("n_layer").get<int>() : 1);
    const int il = pyramid ? layer : 0;

    CompressionOptions o;
    o.method = method;
    o.ratio = g.meta.at("ratio").get<double>();
    o.budget = BudgetMode::per_head;
    o.sink = c.sink;
    o.recent = c.recent;
    o.window = g.meta.at("window").get<int>();
    o.pool_kernel = g.meta.at("pool_kernel").get<int>();
    o.pyramid_beta = g.meta.at("pyramid_beta").get<double>();
    if (method == "streaming_llm") {
        EXPECT_EQ(c.sink, g.meta.at("streaming_n_sink").get<int>());
    }
    if (method == "exact_leverage") {
        EXPECT_EQ(c.sink, g.meta.at("leverage_sink").get<int>());
        EXPECT_EQ(c.recent, g.meta.at("leverage_recent").get<int>());
    }

    std::unique_ptr<Scorer> scorer = make_scorer(o, l.shape);
    KvCache cache = prefill(*scorer, l, 50);
    const ScoreSet scores = scorer->finalize(cache);

    if (c.tolerance >= 0) {
        const double diff = max_difference(scores.scores[static_cast<size_t>(il)], g.array(method + "/scores"));
        std::printf("%s: max relative score difference %.3g\n", c.method, diff);
        EXPECT_LT(diff, c.tolerance);
    }
    if (method == "exact_leverage") {
        const auto& exact = dynamic_cast<const ExactLeverageScorer&>(*scorer);
        const double diff = max_difference(exact.raw_scores().scores[0], g.array("exact_leverage/raw"));
        std::printf("exact_leverage: max difference of raw leverage %.3g\n", diff);
        EXPECT_LT(diff, 1e-6);  // leverage is at most 1, so this is an absolute difference
    }
    if (pyramid) {
        ASSERT_TRUE(static_cast<bool>(scores.layer_keep));
        const int64_t n_keep = std::llround((1.0 - o.ratio) * static_cast<double>(l.n_tokens));
        EXPECT_EQ(scores.layer_keep(l.n_tokens, n_keep),
                  g.meta.at("methods").at("pyramidkv").at("layer_keep").get<std::vector<int64_t>>());
    }

    compress(cache, scorer.get(), o);
    std::printf("%s kept sets at ratio %.2f:\n", c.method, o.ratio);
    expect_kept_sets_equal(cache, il, g.meta.at("methods").at(method).at("kept"));
}

std::string case_name(const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.method; }

INSTANTIATE_TEST_SUITE_P(Methods, BaselinesKvpress, ::testing::ValuesIn(kCases), case_name);

}  // namespace
}  // namespace compactor
