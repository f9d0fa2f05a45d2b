// compactor-test-libs: compactor_model nlohmann_json::nlohmann_json
// Last-position logits of the real model against transformers' fp32 forward
// pass of the same GGUF file (tools/logits_golden.py writes the golden files).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "support/paths.h"

namespace compactor::test {
namespace {

// Allowed max |ours − reference| as a fraction of max |reference logit|.
constexpr double kRelativeTolerance = 1e-3;

struct GoldenPrompt {
    std::string name;
    std::vector<int32_t> ids;
    std::vector<float> logits;  // [n_vocab]
    int32_t top1 = -1;
};

std::vector<float> read_f32(const std::string& path, size_t count) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open golden file " + path + "; run tools/logits_golden.py");
    std::vector<float> values(count);
    in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * sizeof(float)));
    if (in.gcount() != static_cast<std::streamsize>(count * sizeof(float))) {
        throw std::runtime_error("golden file " + path + " is shorter than " + std::to_string(count) + " floats");
    }
    return values;
}

std::vector<GoldenPrompt> read_golden() {
    std::ifstream in(golden_path("logits.json"));
    if (!in) throw std::runtime_error("cannot open " + golden_path("logits.json") + "; run tools/logits_golden.py");
    const nlohmann::json sidecar = nlohmann::json::parse(in);
    const auto n_vocab = sidecar.at("n_vocab").get<size_t>();
    std::vector<GoldenPrompt> prompts;
    for (const auto& entry : sidecar.at("prompts")) {
        GoldenPrompt p;
        p.name = entry.at("name").get<std::string>();
        p.ids = entry.at("ids").get<std::vector<int32_t>>();
        p.top1 = entry.at("top1").get<int32_t>();
        p.logits = read_f32(golden_path(entry.at("file").get<std::string>()), n_vocab);
        prompts.push_back(std::move(p));
    }
    return prompts;
}

int32_t argmax(const std::vector<float>& v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// max |a − b| / max |b|
double relative_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double max_diff = 0.0;
    double max_ref = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
        max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
    }
    return max_diff / max_ref;
}

class LogitsParity : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string path = real_model_path();
        if (!std::filesystem::exists(path)) return;
        model_ = Model::load(path, 2);
        golden_ = read_golden();
    }
    static void TearDownTestSuite() { model_.reset(); }
    void SetUp() override {
        ASSERT_NE(model_, nullptr) << "the real model is missing at " << real_model_path()
                                   << "; run scripts/fetch_model.sh or set COMPACTOR_MODEL";
    }

    static std::vector<float> run(const std::vector<int32_t>& ids, int64_t chunk_size) {
        KvCache cache = model_->make_cache();
        ForwardOptions options;
        options.chunk_size = chunk_size;
        std::vector<float> logits;
        model_->forward(ids, cache, options, &logits);
        return logits;
    }

    static const GoldenPrompt& prompt(const std::string& name) {
        for (const GoldenPrompt& p : golden_) {
            if (p.name == name) return p;
        }
        throw std::runtime_error("prompt " + name + " is missing from logits.json");
    }

    static void check_prompt(const std::string& name) {
        const GoldenPrompt& p = prompt(name);
        const std::vector<float> logits = run(p.ids, 512);
        ASSERT_EQ(logits.size(), p.logits.size());
        const double ratio = relative_max_diff(logits, p.logits);
        std::printf("[ parity   ] %s: %zu tokens, max |diff| / max |logit| = %.3g\n", name.c_str(),
                    p.ids.size(), ratio);
        EXPECT_EQ(argmax(logits), p.top1) << name;
        EXPECT_EQ(argmax(p.logits), p.top1) << "golden file of " << name << " disagrees with its JSON";
        EXPECT_LT(ratio, kRelativeTolerance) << name;
    }

    static inline std::unique_ptr<Model> model_;
    static inline std::vector<GoldenPrompt> golden_;
};

TEST_F(LogitsParity, LongChatAcrossChunks) { check_prompt("long_chat"); }

TEST_F(LogitsParity, ShortChat) { check_prompt("short_chat"); }

TEST_F(LogitsParity, Code) { check_prompt("code"); }

TEST_F(LogitsParity, ChunkSizeDoesNotChangeLogits) {
    const GoldenPrompt& p = prompt("long_chat");
    const std::vector<float> chunk_512 = run(p.ids, 512);
    const std::vector<float> chunk_100 = run(p.ids, 100);
    const double ratio = relative_max_diff(chunk_100, chunk_512);
    std::printf("[ parity   ] long_chat chunk 100 vs 512: max |diff| / max |logit| = %.3g\n", ratio);
    EXPECT_LT(ratio, 1e-5);
    EXPECT_EQ(argmax(chunk_100), argmax(chunk_512));
}

}  // namespace
}  // namespace compactor::test
