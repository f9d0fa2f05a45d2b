// compactor-test-libs: compactor_gguf
//
// The inspect report of a synthetic llama-style file.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "gguf/inspect.h"
#include "support/gguf_writer.h"

namespace {

using namespace compactor::test;
using compactor::gguf::GgufFile;

#define EXPECT_LINE(report, line) \
    EXPECT_NE((report).find(std::string(line) + "\n"), std::string::npos) << "report:\n" << (report)

std::vector<uint8_t> tiny_llama() {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_string("general.name", "Tiny Llama");
    w.add_u32("llama.context_length", 2048);
    w.add_u32("llama.embedding_length", 64);
    w.add_u32("llama.block_count", 2);
    w.add_u32("llama.feed_forward_length", 128);
    w.add_u32("llama.attention.head_count", 4);
    w.add_u32("llama.attention.head_count_kv", 2);
    w.add_f32("llama.rope.freq_base", 10000.0f);
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "smollm");
    w.add_strings("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b", "c"});
    w.add_string("tokenizer.chat_template", "{{ messages }}");

    const std::vector<float> matrix(64 * 64, 0.25f);
    const std::vector<float> norm(64, 1.0f);
    w.add_tensor("token_embd.weight", GgmlType::Q8_0, {64, 5}, std::vector<float>(64 * 5, 0.5f));
    for (int il = 0; il < 2; ++il) {
        const std::string prefix = "blk." + std::to_string(il) + ".";
        w.add_tensor(prefix + "attn_q.weight", GgmlType::Q4_1, {64, 64}, matrix);
        w.add_tensor(prefix + "attn_output.weight", GgmlType::Q4_1, {64, 64}, matrix);
        w.add_tensor(prefix + "attn_norm.weight", GgmlType::F32, {64}, norm);
    }
    return w.to_bytes();
}

TEST(GgufInspect, ReportsHyperparameters) {
    const std::vector<uint8_t> bytes = tiny_llama();
    const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
    const std::string report = compactor::gguf::inspect_report(*f);

    EXPECT_LINE(report, "architecture            llama");
    EXPECT_LINE(report, "name                    Tiny Llama");
    EXPECT_LINE(report, "context_length          2048");
    EXPECT_LINE(report, "embedding_length        64");
    EXPECT_LINE(report, "block_count             2");
    EXPECT_LINE(report, "feed_forward_length     128");
    EXPECT_LINE(report, "head_count              4");
    EXPECT_LINE(report, "head_count_kv           2");
    EXPECT_LINE(report, "rope.freq_base          10000");
    EXPECT_LINE(report, "layer_norm_rms_epsilon  1e-05");
    EXPECT_LINE(report, "vocab_size              5");  // from the token list: no llama.vocab_size key
}

TEST(GgufInspect, ReportsTokenizerAndTensors) {
    const std::vector<uint8_t> bytes = tiny_llama();
    const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
    const std::string report = compactor::gguf::inspect_report(*f);

    EXPECT_LINE(report, "format                  GGUF v3, " + std::to_string(bytes.size()) +
                            " bytes (0.0 MiB)");
    EXPECT_LINE(report, "tokenizer               gpt2 (pre-tokenizer smollm)");
    EXPECT_LINE(report, "chat template           present (14 chars)");
    EXPECT_LINE(report, "metadata keys           14");
    EXPECT_LINE(report, "tensors                 7 (Q4_1 4, F32 2, Q8_0 1)");
    // 4 × 64·64/32·20 + 2 × 64·4 + 5·2·34 = 10240 + 512 + 340 bytes.
    EXPECT_LINE(report, "tensor data             0.0 MiB");
    uint64_t total = 0;
    for (const auto& t : f->tensors()) total += t.n_bytes;
    EXPECT_EQ(total, 11092u);
}

TEST(GgufInspect, MissingKeysAreMarked) {
    GgufWriter w;
    w.add_string("general.architecture", "qwen2");
    const std::vector<uint8_t> bytes = w.to_bytes();
    const auto f = GgufFile::from_memory(bytes.data(), bytes.size());
    const std::string report = compactor::gguf::inspect_report(*f);

    EXPECT_LINE(report, "architecture            qwen2");
    EXPECT_LINE(report, "context_length          (missing)");
    EXPECT_LINE(report, "vocab_size              (missing)");
    EXPECT_LINE(report, "chat template           none");
    EXPECT_LINE(report, "tensors                 0 (none)");
}

TEST(GgufInspect, FormatValue) {
    using compactor::gguf::format_value;
    EXPECT_EQ(format_value(value_i8(-3)), "-3");
    EXPECT_EQ(format_value(value_u64(18446744073709551615ull)), "18446744073709551615");
    EXPECT_EQ(format_value(value_f32(0.5f)), "0.5");
    EXPECT_EQ(format_value(value_bool(true)), "true");
    EXPECT_EQ(format_value(value_string("x y")), "x y");
    EXPECT_EQ(format_value(value_strings({"a", "b"})), "[array of 2 string]");
}

}  // namespace
