// compactor-test-libs: compactor_model
// The BLAS forward pass against the scalar reference on tiny synthetic models.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_forward_model.h"

namespace compactor::test {
namespace {

// Relative to the largest reference logit. fp32 activations leave only
// summation order between the engine and the reference; int8 activations
// round each input block to 1/254 of its largest magnitude.
constexpr double kTolerance = 1e-4;
constexpr double kInt8Tolerance = 3e-2;

struct Case {
    std::string label;
    TinySpec spec;
    WeightFormat format = WeightFormat::quantized;
    double tolerance = kTolerance;
    friend void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }
};

std::vector<Case> cases() {
    std::vector<Case> out;
    TinySpec s;
    out.push_back({"llama_f32_tied", s});
    s.weight_type = GgmlType::Q8_0;
    s.tied_output = false;
    out.push_back({"llama_q8_0_untied", s});
    s.weight_type = GgmlType::Q4_1;
    out.push_back({"llama_q4_1_untied", s});
    out.push_back({"llama_q4_1_fp32_weights", s, WeightFormat::fp32});
    out.push_back({"llama_q4_1_int8_activations", s, WeightFormat::quantized_int8, kInt8Tolerance});
    s.weight_type = GgmlType::Q4_0;
    out.push_back({"llama_q4_0_untied", s});
    s = TinySpec{};
    s.arch = "qwen2";
    s.rope_freq_base = 1000000.0f;
    out.push_back({"qwen2_f32_biases", s});
    s.weight_type = GgmlType::Q8_0;
    s.n_head_kv = 1;
    out.push_back({"qwen2_q8_0_one_kv_head", s});
    out.push_back({"qwen2_q8_0_int8_activations", s, WeightFormat::quantized_int8, kInt8Tolerance});
    return out;
}

class ForwardReference : public ::testing::TestWithParam<Case> {};

TEST_P(ForwardReference, AllLogitsMatchScalar) {
    const TinySpec& spec = GetParam().spec;
    GgufWriter writer;
    const RefWeights ref = build_tiny_model(spec, writer);
    const auto model = load_from_writer(writer, 2, GetParam().format);
    const std::vector<int32_t> tokens = sample_tokens(11, spec.n_vocab, 3);

    KvCache cache = model->make_cache();
    ForwardOptions options;
    options.all_logits = true;
    std::vector<float> logits;
    model->forward(tokens, cache, options, &logits);

    RefCache ref_cache = make_ref_cache(ref);
    const auto expected = ref_forward(ref, tokens, ref_cache);
    ASSERT_EQ(logits.size(), tokens.size() * static_cast<size_t>(spec.n_vocab));
    for (size_t t = 0; t < tokens.size(); ++t) {
        const std::vector<float> row(logits.begin() + static_cast<std::ptrdiff_t>(t * spec.n_vocab),
                                     logits.begin() + static_cast<std::ptrdiff_t>((t + 1) * spec.n_vocab));
        EXPECT_LT(relative_max_diff(row, expected[t]), GetParam().tolerance) << "token " << t;
    }
    EXPECT_EQ(cache.next_pos(), 11);
    EXPECT_EQ(cache.max_length(), 11);
}

TEST_P(ForwardReference, CacheKeysMatchScalar) {
    const TinySpec& spec = GetParam().spec;
    GgufWriter writer;
    const RefWeights ref = build_tiny_model(spec, writer);
    const auto model = load_from_writer(writer, 2, GetParam().format);
    const std::vector<int32_t> tokens = sample_tokens(6, spec.n_vocab, 4);

    KvCache cache = model->make_cache();
    model->forward(tokens, cache, ForwardOptions{}, nullptr);
    RefCache ref_cache = make_ref_cache(ref);
    ref_forward(ref, tokens, ref_cache);

    for (int il = 0; il < spec.n_layer; ++il) {
        for (int h = 0; h < spec.n_head_kv; ++h) {
            const size_t slot = static_cast<size_t>(il * spec.n_head_kv + h);
            const auto keys = cache.keys(il, h);
            const auto values = cache.values(il, h);
            for (size_t r = 0; r < tokens.size(); ++r) {
                for (int d = 0; d < ref.head_dim; ++d) {
                    const size_t i = r * static_cast<size_t>(ref.head_dim) + static_cast<size_t>(d);
                    EXPECT_NEAR(keys[i], ref_cache.k[slot][r][static_cast<size_t>(d)], 1e-4)
                        << "layer " << il << " head " << h << " row " << r;
                    EXPECT_NEAR(values[i], ref_cache.v[slot][r][static_cast<size_t>(d)], 1e-4);
                }
            }
        }
    }
}

// 150 tokens in one chunk span several query blocks of the attention kernel.
TEST_P(ForwardReference, LongChunkMatchesScalar) {
    const TinySpec& spec = GetParam().spec;
    GgufWriter writer;
    const RefWeights ref = build_tiny_model(spec, writer);
    const auto model = load_from_writer(writer, 2, GetParam().format);
    const std::vector<int32_t> tokens = sample_tokens(150, spec.n_vocab, 9);

    KvCache cache = model->make_cache();
    ForwardOptions options;
    options.all_logits = true;
    std::vector<float> logits;
    model->forward(tokens, cache, options, &logits);
    RefCache ref_cache = make_ref_cache(ref);
    const auto expected = ref_forward(ref, tokens, ref_cache);

    for (size_t t : {size_t{0}, size_t{63}, size_t{64}, size_t{100}, size_t{149}}) {
        const std::vector<float> row(logits.begin() + static_cast<std::ptrdiff_t>(t * spec.n_vocab),
                                     logits.begin() + static_cast<std::ptrdiff_t>((t + 1) * spec.n_vocab));
        EXPECT_LT(relative_max_diff(row, expected[t]), GetParam().tolerance) << "token " << t;
    }
}

// Heads compacted to different lengths: the next tokens must attend over
// exactly the kept rows of their own head.
TEST_P(ForwardReference, RaggedCacheMatchesScalar) {
    const TinySpec& spec = GetParam().spec;
    GgufWriter writer;
    const RefWeights ref = build_tiny_model(spec, writer);
    const auto model = load_from_writer(writer, 2, GetParam().format);
    const std::vector<int32_t> context = sample_tokens(12, spec.n_vocab, 5);
    const std::vector<int32_t> question = sample_tokens(4, spec.n_vocab, 6);

    KvCache cache = model->make_cache();
    model->forward(context, cache, ForwardOptions{}, nullptr);
    RefCache ref_cache = make_ref_cache(ref);
    ref_forward(ref, context, ref_cache);

    // A different kept set (and length) per layer and head.
    for (int il = 0; il < spec.n_layer; ++il) {
        for (int h = 0; h < spec.n_head_kv; ++h) {
            std::vector<int64_t> keep;
            const int stride = 1 + (il * spec.n_head_kv + h) % 3;
            for (int64_t r = h; r < 12; r += stride) keep.push_back(r);
            cache.compact(il, h, keep);
            ref_compact(ref_cache, ref, il, h, keep);
        }
    }
    if (spec.n_head_kv > 1) {
        ASSERT_NE(cache.length(0, 0), cache.length(0, 1));
    }

    ForwardOptions options;
    options.all_logits = true;
    std::vector<float> logits;
    model->forward(question, cache, options, &logits);
    const auto expected = ref_forward(ref, question, ref_cache);

    for (size_t t = 0; t < question.size(); ++t) {
        const std::vector<float> row(logits.begin() + static_cast<std::ptrdiff_t>(t * spec.n_vocab),
                                     logits.begin() + static_cast<std::ptrdiff_t>((t + 1) * spec.n_vocab));
        EXPECT_LT(relative_max_diff(row, expected[t]), GetParam().tolerance) << "question token " << t;
    }
    EXPECT_EQ(cache.next_pos(), 16);
    EXPECT_EQ(cache.positions(0, 0).back(), 15);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ForwardReference, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.label; });

TEST(ForwardReference, ConfigReadFromMetadata) {
    TinySpec spec;
    spec.tied_output = false;
    GgufWriter writer;
    build_tiny_model(spec, writer);
    const auto model = load_from_writer(writer, 3);
    const ModelConfig& c = model->config();

    EXPECT_EQ(c.arch, "llama");
    EXPECT_EQ(c.n_vocab, 64);
    EXPECT_EQ(c.n_embd, 32);
    EXPECT_EQ(c.n_layer, 2);
    EXPECT_EQ(c.n_head, 4);
    EXPECT_EQ(c.n_head_kv, 2);
    EXPECT_EQ(c.head_dim, 8);
    EXPECT_EQ(c.n_rot, 8);
    EXPECT_EQ(c.n_ff, 64);
    EXPECT_EQ(c.n_ctx_train, 256);
    EXPECT_EQ(c.rope_mode, RopeMode::normal);
    EXPECT_FALSE(c.tied_output);
    EXPECT_EQ(model->n_threads(), 3);
}

}  // namespace
}  // namespace compactor::test
