// compactor-test-libs: compactor_model
// Bad models and bad forward() input are rejected with messages naming the problem.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "test_forward_model.h"

namespace compactor::test {
namespace {

// The message of the exception load_from_writer throws, or "" when it loads.
template <typename Exception>
std::string load_error(const GgufWriter& writer) {
    try {
        load_from_writer(writer);
    } catch (const Exception& e) {
        return e.what();
    }
    return "";
}

void expect_contains(const std::string& message, const std::string& part) {
    EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected to contain: " << part;
}

TEST(ForwardErrors, MissingTensorNamed) {
    TinySpec spec;
    spec.skip_tensor = "blk.1.ffn_up.weight";
    GgufWriter writer;
    build_tiny_model(spec, writer);
    const std::string message = load_error<gguf::GgufError>(writer);
    ASSERT_FALSE(message.empty()) << "a model without blk.1.ffn_up.weight loaded";
    expect_contains(message, "blk.1.ffn_up.weight");
}

TEST(ForwardErrors, WrongShapeNamesExpectedAndFound) {
    TinySpec spec;
    spec.transpose_tensor = "blk.0.attn_k.weight";
    GgufWriter writer;
    build_tiny_model(spec, writer);
    const std::string message = load_error<gguf::GgufError>(writer);
    ASSERT_FALSE(message.empty()) << "a model with a transposed attn_k loaded";
    expect_contains(message, "blk.0.attn_k.weight");
    expect_contains(message, "[16, 32]");  // found
    expect_contains(message, "[32, 16]");  // expected
}

TEST(ForwardErrors, UnknownArchListsSupported) {
    TinySpec spec;
    spec.arch = "gpt2";
    GgufWriter writer;
    build_tiny_model(spec, writer);
    const std::string message = load_error<std::runtime_error>(writer);
    ASSERT_FALSE(message.empty()) << "arch gpt2 loaded";
    expect_contains(message, "gpt2");
    expect_contains(message, "\"llama\", \"qwen2\", \"mistral\"");
}

TEST(ForwardErrors, UndequantizableTypeNamed) {
    TinySpec spec;
    spec.skip_tensor = "blk.0.ffn_gate.weight";
    GgufWriter writer;
    build_tiny_model(spec, writer);
    // Q5_0: 22 bytes per block of 32; the reader knows the type, dequantize() does not.
    const size_t n_blocks = size_t{32} * 64 / 32;
    writer.add_tensor_raw("blk.0.ffn_gate.weight", GgmlType::Q5_0, {32, 64}, std::vector<uint8_t>(n_blocks * 22));
    const std::string message = load_error<gguf::GgufError>(writer);
    ASSERT_FALSE(message.empty()) << "a Q5_0 tensor loaded";
    expect_contains(message, "blk.0.ffn_gate.weight");
    expect_contains(message, "Q5_0");
}

TEST(ForwardErrors, HeadCountNotDividingIsRejected) {
    TinySpec spec;
    spec.n_head_kv = 3;
    spec.n_embd = 36;
    spec.n_head = 4;
    GgufWriter writer;
    // F32 weights: 36 columns are not a whole quantization block.
    build_tiny_model(spec, writer);
    const std::string message = load_error<gguf::GgufError>(writer);
    ASSERT_FALSE(message.empty());
    expect_contains(message, "n_head_kv");
}

class ForwardInput : public ::testing::Test {
protected:
    void SetUp() override {
        build_tiny_model(TinySpec{}, writer_);
        model_ = load_from_writer(writer_);
    }
    GgufWriter writer_;
    std::unique_ptr<Model> model_;
};

TEST_F(ForwardInput, TokenOutOfRangeRejected) {
    KvCache cache = model_->make_cache();
    std::vector<float> logits;
    const std::vector<int32_t> too_large = {1, 2, 64};
    const std::vector<int32_t> negative = {-1};
    EXPECT_THROW(model_->forward(too_large, cache, ForwardOptions{}, &logits), std::invalid_argument);
    EXPECT_THROW(model_->forward(negative, cache, ForwardOptions{}, &logits), std::invalid_argument);
    // Rejected before any layer ran, so the cache is untouched.
    EXPECT_EQ(cache.next_pos(), 0);
    EXPECT_EQ(cache.total_rows(), 0);
}

TEST_F(ForwardInput, WrongCacheShapeRejected) {
    KvCache cache(2, 1, 8);
    const std::vector<int32_t> tokens = {1, 2};
    EXPECT_THROW(model_->forward(tokens, cache, ForwardOptions{}, nullptr), std::invalid_argument);
}

TEST_F(ForwardInput, NonPositiveChunkRejected) {
    KvCache cache = model_->make_cache();
    const std::vector<int32_t> tokens = {1, 2};
    ForwardOptions options;
    options.chunk_size = 0;
    EXPECT_THROW(model_->forward(tokens, cache, options, nullptr), std::invalid_argument);
}

TEST_F(ForwardInput, EmptyInputLeavesCache) {
    KvCache cache = model_->make_cache();
    std::vector<float> logits = {1.0f};
    model_->forward({}, cache, ForwardOptions{}, &logits);
    EXPECT_TRUE(logits.empty());
    EXPECT_EQ(cache.next_pos(), 0);
}

}  // namespace
}  // namespace compactor::test
