// compactor-test-libs: compactor_model
// `compactor bench` on a tiny synthetic model with a byte-level tokenizer:
// the JSON report's structure and sane values (timings are never asserted),
// the token dump, the text report, and rejected arguments.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/cli_process.h"
#include "unit/test_forward_model.h"

namespace compactor::test {
namespace {

using nlohmann::json;

// GPT-2's byte-to-character table: printable bytes stand for themselves and
// the others map to code points from 256 up, in byte order.
std::vector<std::string> byte_level_alphabet() {
    std::vector<std::string> alphabet;
    int next_extra = 256;
    for (int byte = 0; byte < 256; ++byte) {
        const bool printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
        const int code_point = printable ? byte : next_extra++;
        std::string utf8;
        if (code_point < 0x80) {
            utf8 += static_cast<char>(code_point);
        } else {
            utf8 += static_cast<char>(0xC0 | (code_point >> 6));
            utf8 += static_cast<char>(0x80 | (code_point & 0x3F));
        }
        alphabet.push_back(utf8);
    }
    return alphabet;
}

// A 2-layer model whose vocabulary covers every byte, so any document
// tokenizes; its context is 256 tokens.
std::string write_tiny_model(const TempDir& dir) {
    std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    std::vector<int32_t> types = {3, 3, 3};
    for (const std::string& piece : byte_level_alphabet()) {
        tokens.push_back(piece);
        types.push_back(1);
    }
    tokens.push_back("th");
    types.push_back(1);

    TinySpec spec;
    spec.n_vocab = static_cast<int>(tokens.size());
    GgufWriter writer;
    build_tiny_model(spec, writer);
    writer.add_string("tokenizer.ggml.model", "gpt2");
    writer.add_string("tokenizer.ggml.pre", "gpt2");
    writer.add_strings("tokenizer.ggml.tokens", tokens);
    writer.add_i32s("tokenizer.ggml.token_type", types);
    writer.add_strings("tokenizer.ggml.merges", {"t h"});
    writer.add_u32("tokenizer.ggml.eos_token_id", 0);

    const std::string path = (dir.path() / "tiny.gguf").string();
    writer.write(path);
    return path;
}

json parse_stdout(const ProcessResult& result) {
    try {
        return json::parse(result.out);
    } catch (const json::parse_error& e) {
        ADD_FAILURE() << "stdout is not one JSON object: " << e.what() << "\nstdout:\n" << result.out;
        return json::object();
    }
}

// The first stderr line that starts with "error: ", or "" when none does.
std::string error_line(const ProcessResult& result) {
    for (const std::string& line : split_lines(result.err)) {
        if (line.rfind("error: ", 0) == 0) return line;
    }
    return "";
}

void expect_error(const ProcessResult& result, const std::vector<std::string>& fragments) {
    EXPECT_EQ(result.exit_code, 1) << "stderr:\n" << result.err;
    EXPECT_TRUE(result.out.empty()) << "stdout:\n" << result.out;
    const std::string line = error_line(result);
    ASSERT_FALSE(line.empty()) << "no 'error: ' line in stderr:\n" << result.err;
    for (const std::string& fragment : fragments) {
        EXPECT_NE(line.find(fragment), std::string::npos) << "'" << fragment << "' missing from: " << line;
    }
}

// A {median, min, max} object with min <= median <= max.
void expect_spread(const json& length, const std::string& key) {
    ASSERT_TRUE(length.contains(key)) << "missing figure " << key;
    const json& figure = length[key];
    for (const char* part : {"median", "min", "max"}) {
        ASSERT_TRUE(figure.contains(part)) << key << " lacks " << part;
        ASSERT_TRUE(figure[part].is_number()) << key << "." << part << " is not a number";
    }
    EXPECT_LE(figure["min"].get<double>(), figure["median"].get<double>()) << key;
    EXPECT_LE(figure["median"].get<double>(), figure["max"].get<double>()) << key;
}

class CliBench : public ::testing::Test {
protected:
    void SetUp() override { model_ = write_tiny_model(dir_); }

    ProcessResult bench(std::vector<std::string> extra) const {
        std::vector<std::string> args = {"bench", "--model", model_, "--threads", "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_compactor(args);
    }

    TempDir dir_;
    std::string model_;
};

TEST_F(CliBench, JsonReportStructureAndValues) {
    const ProcessResult result =
        bench({"--lengths", "128,64", "--runs", "1", "--decode-tokens", "4", "--ratio", "0.5", "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json report = parse_stdout(result);

    EXPECT_EQ(report.value("model", ""), model_);
    EXPECT_EQ(report.value("model_name", ""), "tiny-llama");
    EXPECT_EQ(report.value("method", ""), "compactor");
    EXPECT_DOUBLE_EQ(report.value("ratio", -1.0), 0.5);
    EXPECT_EQ(report.value("n_threads", 0), 2);
    EXPECT_EQ(report.value("runs", 0), 1);
    EXPECT_EQ(report.value("decode_tokens", 0), 4);
    EXPECT_GT(report.value("model_file_bytes", 0.0), 0.0);
    EXPECT_GT(report.value("weight_bytes", 0.0), 0.0);
    EXPECT_EQ(report.value("weight_format", ""), "quantized");
    for (const char* key : {"compiler", "blas", "context"}) {
        EXPECT_FALSE(report.value(key, "").empty()) << key;
    }
    ASSERT_TRUE(report.contains("cpu"));
    EXPECT_FALSE(report["cpu"].value("model", "").empty());
    EXPECT_TRUE(report["cpu"]["flags"].is_array());

    // Lengths come out sorted, one entry each.
    const json& lengths = report["lengths"];
    ASSERT_EQ(lengths.size(), 2u);
    EXPECT_EQ(lengths[0].value("n_tokens", 0), 64);
    EXPECT_EQ(lengths[1].value("n_tokens", 0), 128);

    // KV bytes of the tiny model: 2 layers × 2 KV heads × head_dim 8 × (K + V) × 4 bytes per token.
    const double kv_bytes_per_token = 2 * 2 * 8 * 2 * 4;
    for (const json& length : lengths) {
        const auto n_tokens = length.value("n_tokens", int64_t{0});
        SCOPED_TRACE("length " + std::to_string(n_tokens));

        for (const char* key : {"prefill_tokens_per_s", "prefill_s", "prefill_gflop_per_s",
                                "prefill_no_scorer_tokens_per_s", "observe_s", "observe_percent", "score_s",
                                "score_percent", "compact_s", "compact_percent", "decode_full_tokens_per_s",
                                "decode_compressed_tokens_per_s", "decode_speedup"}) {
            expect_spread(length, key);
        }
        for (const char* key : {"prefill_tokens_per_s", "prefill_no_scorer_tokens_per_s", "decode_full_tokens_per_s",
                                "decode_compressed_tokens_per_s", "prefill_gflop_per_s", "decode_speedup"}) {
            EXPECT_GT(length[key].value("min", 0.0), 0.0) << key;
        }
        // Percentages are of the same run's prefill. On this tiny model
        // scoring can outlast prefill, so they are not bounded by 100 here.
        ASSERT_EQ(length["runs"].size(), 1u);
        const json& run = length["runs"][0];
        const double prefill_s = run.value("prefill_s", 0.0);
        ASSERT_GT(prefill_s, 0.0);
        EXPECT_GT(run.value("score_s", 0.0), 0.0);
        // observe() runs inside the timed prefill, so it takes part of it.
        EXPECT_GT(run.value("observe_s", 0.0), 0.0);
        EXPECT_LT(run.value("observe_s", 0.0), prefill_s);
        EXPECT_GT(length["observe_percent"].value("median", 0.0), 0.0);
        EXPECT_LT(length["observe_percent"].value("median", 100.0), 100.0);
        EXPECT_GE(run.value("compact_s", -1.0), 0.0);
        EXPECT_NEAR(length["score_percent"].value("median", -1.0), 100.0 * run.value("score_s", 0.0) / prefill_s, 1e-6);
        EXPECT_NEAR(length["compact_percent"].value("median", -1.0), 100.0 * run.value("compact_s", 0.0) / prefill_s,
                    1e-6);
        EXPECT_NEAR(length["prefill_tokens_per_s"].value("median", 0.0), static_cast<double>(n_tokens) / prefill_s,
                    1e-6 * static_cast<double>(n_tokens) / prefill_s);
        EXPECT_NEAR(length["decode_full_tokens_per_s"].value("median", 0.0), 4.0 / run.value("decode_full_s", 1.0),
                    1e-6 / run.value("decode_full_s", 1.0));

        EXPECT_DOUBLE_EQ(length.value("kv_bytes_full", 0.0), kv_bytes_per_token * static_cast<double>(n_tokens));
        EXPECT_NEAR(length.value("kv_bytes_compressed", 0.0) / length.value("kv_bytes_full", 1.0), 0.5, 0.02);
        EXPECT_NEAR(length.value("kept_fraction", 0.0), 0.5, 0.02);
        EXPECT_GT(length.value("prefill_flop", 0.0), 0.0);
        EXPECT_GT(length.value("peak_rss_bytes", 0.0), 0.0);
        const std::string scope = length.value("peak_rss_scope", "");
        EXPECT_TRUE(scope == "since_reset" || scope == "process") << scope;
        EXPECT_GT(run.value("prefill_no_scorer_s", 0.0), 0.0);
    }

    // Attention makes prefill FLOPs grow faster than the length.
    EXPECT_GT(lengths[1].value("prefill_flop", 0.0), 2.0 * lengths[0].value("prefill_flop", 0.0));
}

TEST_F(CliBench, DumpTokensHasExactLengths) {
    const std::string dump = (dir_.path() / "tokens.json").string();
    const ProcessResult result = bench({"--lengths", "64,200", "--dump-tokens", dump, "--tokens-only"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;

    const json tokens = json::parse(read_file(dump));
    EXPECT_EQ(tokens.value("model", ""), model_);
    EXPECT_EQ(tokens["lengths"], json({64, 200}));
    ASSERT_EQ(tokens["tokens"]["64"].size(), 64u);
    ASSERT_EQ(tokens["tokens"]["200"].size(), 200u);
    // The shorter context is the start of the longer one: both cut one repeated document.
    for (size_t i = 0; i < 64; ++i) EXPECT_EQ(tokens["tokens"]["64"][i], tokens["tokens"]["200"][i]) << i;
    for (const json& id : tokens["tokens"]["200"]) {
        EXPECT_GE(id.get<int>(), 3);  // no control token
        EXPECT_LT(id.get<int>(), 260);
    }
}

TEST_F(CliBench, TextReportListsFigures) {
    const ProcessResult result =
        bench({"--lengths", "64", "--runs", "2", "--decode-tokens", "2", "--skip-no-scorer-prefill"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    for (const char* fragment : {"64 context tokens (median [min, max] of 2 runs)", "prefill ", "scoring ",
                                 "compaction ", "decode, full cache", "decode, compressed", "KV cache",
                                 "peak resident memory", "tiny-llama"}) {
        EXPECT_NE(result.out.find(fragment), std::string::npos) << "'" << fragment << "' missing from:\n"
                                                                << result.out;
    }
    EXPECT_EQ(result.out.find("no scorer"), std::string::npos) << "--skip-no-scorer-prefill still timed it";
}

TEST_F(CliBench, RejectsBadArguments) {
    expect_error(bench({"--runs", "0"}), {"--runs 0 is invalid"});
    expect_error(bench({"--lengths", "64,0"}), {"--lengths value 0 is invalid"});
    expect_error(bench({"--decode-tokens", "0"}), {"--decode-tokens 0 is invalid"});
    expect_error(bench({"--prefill-chunk", "0"}), {"--prefill-chunk 0 is invalid"});
    expect_error(run_compactor({"bench", "--model", model_, "--threads", "-1"}), {"--threads -1 is invalid"});
    expect_error(bench({"--ratio", "1.5"}), {"ratio", "compactor bench --help"});
    expect_error(bench({"--method", "bogus"}), {"bogus"});
    expect_error(bench({"--method", "none"}), {"--method none"});
    expect_error(bench({"--tokens-only"}), {"--tokens-only needs --dump-tokens"});
    expect_error(bench({"--lengths", "abc"}), {"abc", "compactor bench --help"});
    expect_error(bench({"--lengths", "64,100000"}), {"--lengths 100000 exceeds the model's context"});
    expect_error(bench({"--context", "/nonexistent/doc.txt"}), {"context file not found: /nonexistent/doc.txt"});
    expect_error(run_compactor({"bench", "--model", "/nonexistent/x.gguf"}),
                 {"model file not found: /nonexistent/x.gguf", "--model PATH"});
}

TEST_F(CliBench, RejectsUnwritableDumpFile) {
    expect_error(bench({"--lengths", "64", "--dump-tokens", "/nonexistent/dir/tokens.json", "--tokens-only"}),
                 {"/nonexistent/dir/tokens.json"});
}

}  // namespace
}  // namespace compactor::test
