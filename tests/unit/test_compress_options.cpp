// compactor-test-libs: compactor_compress
#include <limits>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "compress/compactor_scorer.h"
#include "compress/compressor.h"

namespace compactor {
namespace {

// The message of the std::invalid_argument that validate() throws, or "".
std::string rejection(const CompressionOptions& o) {
    try {
        validate(o);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST(CompressOptions, DefaultsAreValid) {
    const CompressionOptions o;
    EXPECT_EQ(rejection(o), "");
    EXPECT_DOUBLE_EQ(o.blend, 0.3);
    EXPECT_EQ(o.sketch_dim, 48);
    EXPECT_EQ(o.attn_chunk, 256);
    EXPECT_EQ(o.budget, BudgetMode::per_layer);
    EXPECT_EQ(o.sink, 8);
    EXPECT_EQ(o.recent, 4);
    EXPECT_TRUE(o.value_weighting);
    EXPECT_DOUBLE_EQ(o.head_floor, 0.2);
}

TEST(CompressOptions, RatioOutsideRangeRejected) {
    for (double ratio : {1.0, 1.5, -0.1, std::numeric_limits<double>::quiet_NaN()}) {
        CompressionOptions o;
        o.ratio = ratio;
        const std::string message = rejection(o);
        EXPECT_NE(message.find("compression ratio"), std::string::npos) << "ratio " << ratio << ": " << message;
    }
    CompressionOptions edge;
    edge.ratio = 0.0;
    EXPECT_EQ(rejection(edge), "");
    edge.ratio = 0.99;
    EXPECT_EQ(rejection(edge), "");
}

TEST(CompressOptions, RatioMessageNamesValue) {
    CompressionOptions o;
    o.ratio = 1.25;
    EXPECT_NE(rejection(o).find("1.25"), std::string::npos);
}

TEST(CompressOptions, OtherKnobsRejected) {
    CompressionOptions o;
    o.sketch_dim = 0;
    EXPECT_NE(rejection(o).find("sketch_dim 0"), std::string::npos);
    o = {};
    o.attn_chunk = -1;
    EXPECT_NE(rejection(o).find("attn_chunk -1"), std::string::npos);
    o = {};
    o.sink = -2;
    EXPECT_NE(rejection(o).find("sink -2"), std::string::npos);
    o = {};
    o.recent = -3;
    EXPECT_NE(rejection(o).find("recent -3"), std::string::npos);
    o = {};
    o.head_floor = 1.5;
    EXPECT_NE(rejection(o).find("head_floor 1.5"), std::string::npos);
    o = {};
    o.leverage_window = -4;
    EXPECT_NE(rejection(o).find("leverage_window -4"), std::string::npos);
    o = {};
    o.method = "snapkv2";
    EXPECT_NE(rejection(o).find("snapkv2"), std::string::npos);
}

TEST(CompressOptions, MakeScorerByMethod) {
    const ModelShape shape{2, 4, 2, 16};
    CompressionOptions o;
    o.method = "none";
    EXPECT_EQ(make_scorer(o, shape), nullptr);
    o.method = "compactor";
    EXPECT_NE(dynamic_cast<CompactorScorer*>(make_scorer(o, shape).get()), nullptr);
    o.method = "leverage";
    EXPECT_NE(make_scorer(o, shape), nullptr);
    o.method = "chunked_attention";
    EXPECT_NE(make_scorer(o, shape), nullptr);
    o.ratio = 2.0;
    EXPECT_THROW(make_scorer(o, shape), std::invalid_argument);
}

TEST(CompressOptions, BadShapeRejected) {
    const CompressionOptions o;
    EXPECT_THROW(make_scorer(o, ModelShape{2, 5, 2, 16}), std::invalid_argument);  // 5 heads, 2 KV heads
    EXPECT_THROW(make_scorer(o, ModelShape{0, 4, 2, 16}), std::invalid_argument);
}

}  // namespace
}  // namespace compactor
