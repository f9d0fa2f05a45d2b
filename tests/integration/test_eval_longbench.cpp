// compactor-test-libs: compactor_eval compactor_engine
// LongBench task files: splitting every prompt into context and question,
// cutting the middle to fit a target length, the sample fields, and the
// errors for bad files. The synthetic cases use a byte-level tokenizer and
// their own config. The real cases read the LongBench folder of the
// evaluation data next to the repository (COMPACTOR_LONGBENCH_DIR overrides
// it) with the SmolLM2 tokenizer, and skip when either is missing.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/longbench.h"
#include "eval/longbench_rules.h"
#include "eval/longbench_split.h"
#include "eval/metrics.h"
#include "eval/prompt_tokens.h"
#include "gguf/gguf_file.h"
#include "integration/cli_process.h"
#include "support/paths.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/vocab.h"

namespace compactor::test {
namespace {

namespace fs = std::filesystem;
using eval::LongBenchConfig;
using eval::Sample;
using nlohmann::json;

constexpr const char* kHotpotqaTemplate =
    "Answer the question based on the given passages. Only give me the answer and do not output any other "
    "words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. "
    "Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:";
constexpr const char* kTrecTemplate =
    "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}";

std::string longbench_dir() {
    if (const char* env = std::getenv("COMPACTOR_LONGBENCH_DIR"); env && *env) return env;
    return std::string(COMPACTOR_SOURCE_DIR) + "/../shared/data/longbench";
}

// One token per byte, plus the ChatML control tokens: token counts equal
// byte counts, so cuts can be checked by hand.
Tokenizer byte_tokenizer() {
    TokenizerVocab vocab;
    vocab.model = "gpt2";
    vocab.pre = "gpt2";
    vocab.tokens = {"<|im_start|>", "<|im_end|>"};
    vocab.token_types = {kTokenTypeControl, kTokenTypeControl};
    for (int byte = 0; byte < 256; ++byte) {
        vocab.tokens.push_back(bytes_to_byte_level(std::string(1, static_cast<char>(byte))));
        vocab.token_types.push_back(kTokenTypeNormal);
    }
    vocab.eos_id = 1;
    return Tokenizer(std::move(vocab));
}

std::string fill(std::string_view template_text, const std::string& context, const std::string& input) {
    std::string out(template_text);
    out.replace(out.find("{context}"), 9, context);
    if (const size_t at = out.find("{input}"); at != std::string::npos) out.replace(at, 7, input);
    return out;
}

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

// The message of the exception that `load` throws, or "" when none.
template <typename Load>
std::string error_of(Load load) {
    try {
        load();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

// A config folder with two tasks, and a tokenizer that needs no model file.
class LongBenchSynthetic : public ::testing::Test {
protected:
    void SetUp() override {
        json prompts = {{"hotpotqa", kHotpotqaTemplate}, {"trec", kTrecTemplate}};
        json max_lens = {{"hotpotqa", 32}, {"trec", 64}};
        write_file(dir_.path() / "dataset2prompt.json", prompts.dump());
        write_file(dir_.path() / "dataset2maxlen.json", max_lens.dump());
        config_ = LongBenchConfig::load(dir_.path().string());
    }

    std::string write_jsonl(const std::string& name, const std::vector<std::string>& lines) {
        std::string text;
        for (const std::string& line : lines) text += line + "\n";
        const fs::path path = dir_.path() / name;
        write_file(path, text);
        return path.string();
    }

    std::vector<Sample> load(const std::string& path, int64_t target_tokens) {
        return eval::load_longbench_file(path, config_, target_tokens, tokenizer_, chat_template_);
    }

    TempDir dir_;
    LongBenchConfig config_;
    Tokenizer tokenizer_ = byte_tokenizer();
    ChatTemplate chat_template_ = ChatTemplate::from_source("");
};

json hotpotqa_line(const std::string& context, const std::string& question) {
    return {{"dataset", "hotpotqa"},
            {"prompt", fill(kHotpotqaTemplate, context, question)},
            {"answers", {"Bob Dylan"}},
            {"all_classes", nullptr},
            {"index", 0}};
}

json trec_line() {
    const std::string context = "Question: Who wrote Hamlet ?\nType: Individual\nQuestion: Where is Rome ?\nType: City";
    return {{"dataset", "trec"},
            {"prompt", fill(kTrecTemplate, context, "Question: What is a camel ?\nType:")},
            {"answers", {"Animal"}},
            {"all_classes", {"Animal", "City", "Individual"}}};
}

TEST_F(LongBenchSynthetic, SamplesRecordEveryField) {
    const std::string path = write_jsonl("two.jsonl", {hotpotqa_line("Passage 1:\nNobody", "Who sang?").dump(),
                                                       trec_line().dump()});
    const std::vector<Sample> samples = load(path, 100000);
    ASSERT_EQ(samples.size(), 2u);

    const Sample& qa = samples[0];
    EXPECT_EQ(qa.id, "hotpotqa/100000/0");
    EXPECT_EQ(qa.suite, "real");
    EXPECT_EQ(qa.task, "hotpotqa");
    EXPECT_EQ(qa.seed, 0u);
    EXPECT_EQ(qa.index, 0);
    EXPECT_EQ(qa.target_tokens, 100000);
    EXPECT_EQ(qa.context + qa.question, fill(kHotpotqaTemplate, "Passage 1:\nNobody", "Who sang?"));
    EXPECT_TRUE(qa.context.ends_with("Passage 1:\nNobody"));
    EXPECT_EQ(qa.question,
              "\n\nAnswer the question based on the given passages. Only give me the answer and do not output any "
              "other words.\n\nQuestion: Who sang?\nAnswer:");
    EXPECT_EQ(qa.answer_prefix, "");
    EXPECT_EQ(qa.references, (std::vector<std::string>{"Bob Dylan"}));
    EXPECT_TRUE(qa.all_classes.empty());
    EXPECT_EQ(qa.metric, "qa_f1");
    EXPECT_FALSE(qa.first_line_only);
    EXPECT_EQ(qa.template_name, "longbench/hotpotqa");
    EXPECT_EQ(qa.max_new_tokens, 32);

    // The few-shot examples use the same "\n" separator: the split is at the
    // last one that starts a "Question:" block.
    const Sample& trec = samples[1];
    EXPECT_EQ(trec.id, "trec/100000/1");
    EXPECT_EQ(trec.question, "\nQuestion: What is a camel ?\nType:");
    EXPECT_TRUE(trec.context.ends_with("Type: City"));
    EXPECT_EQ(trec.metric, "classification");
    EXPECT_TRUE(trec.first_line_only);
    EXPECT_EQ(trec.all_classes, (std::vector<std::string>{"Animal", "City", "Individual"}));
    EXPECT_EQ(trec.max_new_tokens, 64);
    EXPECT_DOUBLE_EQ(eval::score_prediction(trec, "Animal\nQuestion: next"), 1.0);
}

TEST_F(LongBenchSynthetic, ContextAndInputFieldsAreFormatted) {
    const json line = {{"dataset", "hotpotqa"},
                       {"context", "Passage 1:\nText"},
                       {"input", "Who?"},
                       {"answers", {"x"}},
                       {"_id", "abc"}};
    const std::vector<Sample> samples = load(write_jsonl("fields.jsonl", {line.dump()}), 100000);
    ASSERT_EQ(samples.size(), 1u);
    EXPECT_EQ(samples[0].context + samples[0].question, fill(kHotpotqaTemplate, "Passage 1:\nText", "Who?"));
    EXPECT_TRUE(samples[0].question.starts_with("\n\nAnswer the question"));
}

TEST_F(LongBenchSynthetic, LongContextLosesItsMiddle) {
    const std::string context = "BEGIN " + std::string(3000, 'a') + " MIDDLE " + std::string(3000, 'b') + " END";
    const std::string path = write_jsonl("long.jsonl", {hotpotqa_line(context, "Who sang?").dump()});

    const int64_t target = 1000;
    const std::vector<Sample> samples = load(path, target);
    ASSERT_EQ(samples.size(), 1u);
    const Sample& sample = samples[0];
    const int64_t size = eval::encode_sample(tokenizer_, chat_template_, sample).size();
    EXPECT_LE(size, target);
    EXPECT_GE(size, target - 2);  // one byte per token: the cut is exact up to rounding
    EXPECT_NE(sample.context.find("BEGIN"), std::string::npos);
    EXPECT_TRUE(sample.context.ends_with("b END"));
    EXPECT_EQ(sample.context.find("MIDDLE"), std::string::npos);
    EXPECT_TRUE(sample.question.ends_with("Question: Who sang?\nAnswer:"));

    // Head and tail each keep about half of the context's budget.
    const auto n_a = std::count(sample.context.begin(), sample.context.end(), 'a');
    const auto n_b = std::count(sample.context.begin(), sample.context.end(), 'b');
    EXPECT_GT(n_a, 250);
    EXPECT_GT(n_b, 250);
}

TEST_F(LongBenchSynthetic, LongQuestionKeepsItsEnd) {
    // The input is longer than half of the budget: the question keeps its
    // last tokens, the context its head and tail.
    const std::string question = "START " + std::string(2000, 'q') + " Who sang?";
    const std::string path =
        write_jsonl("long_question.jsonl", {hotpotqa_line(std::string(2000, 'c'), question).dump()});
    const std::vector<Sample> samples = load(path, 600);
    ASSERT_EQ(samples.size(), 1u);
    EXPECT_LE(eval::encode_sample(tokenizer_, chat_template_, samples[0]).size(), 600);
    EXPECT_TRUE(samples[0].question.ends_with("Who sang?\nAnswer:"));
    EXPECT_EQ(samples[0].question.find("START"), std::string::npos);
    EXPECT_GT(samples[0].context.size(), 200u);
}

TEST_F(LongBenchSynthetic, TargetTooSmallThrows) {
    const std::string path = write_jsonl("small.jsonl", {hotpotqa_line("text", "Who?").dump()});
    const std::string message = error_of([&] { load(path, 5); });
    EXPECT_NE(message.find(path + ":1:"), std::string::npos) << message;
    EXPECT_NE(message.find("target_tokens 5"), std::string::npos) << message;
}

TEST_F(LongBenchSynthetic, BadLinesNameFileAndLine) {
    json no_answers = hotpotqa_line("c", "q");
    no_answers.erase("answers");
    json unknown = hotpotqa_line("c", "q");
    unknown["dataset"] = "squad";
    json chinese = hotpotqa_line("c", "q");
    chinese["dataset"] = "dureader";
    json mismatch = hotpotqa_line("c", "q");
    mismatch["prompt"] = "Read this: c\nQuestion: q";
    json no_separator = hotpotqa_line("c", "q");
    std::string joined = fill(kHotpotqaTemplate, "c", "q");
    joined.replace(joined.find("\n\nAnswer the question based"), 2, " ");
    no_separator["prompt"] = joined;
    json wrong_end = hotpotqa_line("c", "q");
    wrong_end["prompt"] = fill(kHotpotqaTemplate, "c", "q") + " Thanks!";
    json no_prompt = hotpotqa_line("c", "q");
    no_prompt.erase("prompt");
    json answers_not_list = hotpotqa_line("c", "q");
    answers_not_list["answers"] = "Bob";
    json trec_without_classes = trec_line();
    trec_without_classes["all_classes"] = nullptr;

    struct BadCase {
        std::string name;
        std::string line;
        std::vector<std::string> expected;  // parts of the message
    };
    const std::vector<BadCase> cases = {
        {"missing_field", no_answers.dump(), {"missing field \"answers\""}},
        {"unknown_dataset", unknown.dump(), {"unknown LongBench dataset 'squad'", "hotpotqa"}},
        {"chinese_dataset", chinese.dump(), {"'dureader'", "jieba"}},
        {"template_mismatch",
         mismatch.dump(),
         {"dataset 'hotpotqa'", "does not match", "at byte 0 the template has \"Answer the question"}},
        {"no_separator", no_separator.dump(), {"dataset 'hotpotqa'", "separates the context"}},
        {"wrong_end", wrong_end.dump(), {"ends with \"", "Thanks!\" instead of the template's \"\\nAnswer:\""}},
        {"no_prompt", no_prompt.dump(), {"missing field \"prompt\""}},
        {"answers_type", answers_not_list.dump(), {"\"answers\" must be a list of strings"}},
        {"classes_missing", trec_without_classes.dump(), {"all_classes"}},
        {"invalid_json", R"({"dataset": "hotpotqa", "prompt": )", {"invalid JSON"}},
        {"not_object", "[1, 2]", {"expected a JSON object"}},
    };
    for (const BadCase& bad : cases) {
        // Two good lines and a blank one first, so the bad line is line 4.
        const std::string good = hotpotqa_line("c", "q").dump();
        const std::string path = write_jsonl(bad.name + ".jsonl", {good, "", good, bad.line});
        const std::string message = error_of([&] { load(path, 100000); });
        EXPECT_NE(message.find(path + ":4:"), std::string::npos) << bad.name << ": " << message;
        for (const std::string& part : bad.expected) {
            EXPECT_NE(message.find(part), std::string::npos) << bad.name << ": " << message;
        }
    }
}

TEST_F(LongBenchSynthetic, MissingFilesThrow) {
    const std::string message = error_of([&] { load((dir_.path() / "absent.jsonl").string(), 1000); });
    EXPECT_NE(message.find("absent.jsonl"), std::string::npos) << message;

    const std::string config_message = error_of([&] { LongBenchConfig::load((dir_.path() / "nowhere").string()); });
    EXPECT_NE(config_message.find("dataset2prompt.json"), std::string::npos) << config_message;

    fs::create_directories(dir_.path() / "bad");
    write_file(dir_.path() / "bad" / "dataset2prompt.json", R"({"x": "no context field"})");
    write_file(dir_.path() / "bad" / "dataset2maxlen.json", R"({"x": 1})");
    const std::string template_message = error_of([&] { LongBenchConfig::load((dir_.path() / "bad").string()); });
    EXPECT_NE(template_message.find("{context}"), std::string::npos) << template_message;
}

// ---------------------------------------------------------------------------
// The shared LongBench data.

class LongBenchData : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::is_directory(fs::path(longbench_dir()) / "tasks")) {
            GTEST_SKIP() << "no LongBench data at " << longbench_dir() << " (set COMPACTOR_LONGBENCH_DIR)";
        }
        config_ = LongBenchConfig::load(longbench_dir() + "/config");
    }

    std::string task_path(const std::string& task) const { return longbench_dir() + "/tasks/" + task + ".jsonl"; }

    // The templates a task's prompts may use, the config's first.
    std::vector<eval::LongBenchTemplate> templates(const std::string& task) const {
        std::vector<eval::LongBenchTemplate> out = {
            eval::LongBenchTemplate::parse("longbench/" + task, config_.prompts.at(task))};
        for (const auto& variant : eval::longbench_template_variants(task)) {
            out.push_back(eval::LongBenchTemplate::parse(variant.name, variant.text));
        }
        return out;
    }

    LongBenchConfig config_;
};

// About n bytes of `text`, its head and tail, cut between UTF-8 characters.
std::string shorten(const std::string& text, size_t n = 90) {
    const auto is_continuation = [&](size_t at) { return (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80; };
    size_t head_end = std::min(n / 2, text.size());
    while (head_end < text.size() && is_continuation(head_end)) ++head_end;
    size_t tail_start = text.size() > n / 2 ? text.size() - n / 2 : 0;
    while (tail_start < text.size() && is_continuation(tail_start)) ++tail_start;
    std::string flat = text.size() <= n ? text : text.substr(0, head_end) + " [...] " + text.substr(tail_start);
    for (char& c : flat) {
        if (c == '\n') c = '|';
    }
    return flat;
}

TEST_F(LongBenchData, EveryPromptSplitsExactly) {
    for (const std::string& task : eval::longbench_task_names()) {
        const eval::LongBenchTaskRule& rule = eval::longbench_task_rule(task);
        const std::vector<eval::LongBenchTemplate> formats = templates(task);
        std::ifstream in(task_path(task));
        ASSERT_TRUE(in) << task_path(task);

        std::string line;
        int n_samples = 0;
        while (std::getline(in, line)) {
            const json object = json::parse(line);
            const std::string prompt = object.at("prompt").get<std::string>();
            const eval::PromptParts parts = eval::split_longbench_prompt(prompt, rule, formats);
            EXPECT_EQ(parts.context + parts.question, prompt) << task << " sample " << n_samples;

            // The question contains the separator, a non-empty input and the suffix.
            const eval::LongBenchTemplate* used = nullptr;
            for (const auto& format : formats) {
                if (format.name == parts.template_name) used = &format;
            }
            ASSERT_NE(used, nullptr) << parts.template_name;
            EXPECT_TRUE(parts.context.starts_with(used->prefix)) << task;
            EXPECT_TRUE(parts.question.ends_with(used->suffix)) << task;
            if (used->has_input) {
                EXPECT_TRUE(parts.question.starts_with(used->separator + std::string(rule.input_marker))) << task;
                EXPECT_GT(parts.question.size(), used->separator.size() + used->suffix.size()) << task;
            } else {
                EXPECT_EQ(parts.question, used->suffix) << task;
            }
            if (n_samples < 2) {
                std::cout << task << " [" << parts.template_name << "] context: " << shorten(parts.context, 60)
                          << "\n    question: " << shorten(parts.question) << "\n";
            }
            ++n_samples;
        }
        EXPECT_GT(n_samples, 0) << task;
    }
}

class LongBenchReal : public LongBenchData {
protected:
    void SetUp() override {
        LongBenchData::SetUp();
        if (IsSkipped()) return;
        const std::string model = real_model_path();
        if (!fs::is_regular_file(model)) GTEST_SKIP() << "the real model is missing at " << model;
        if (!tokenizer_) {
            const auto file = gguf::GgufFile::open(model);
            tokenizer_ = std::make_unique<Tokenizer>(read_vocab(*file));
            chat_template_ = std::make_unique<ChatTemplate>(ChatTemplate::from_gguf(*file));
        }
    }

    static void TearDownTestSuite() {
        tokenizer_.reset();
        chat_template_.reset();
    }

    static std::unique_ptr<Tokenizer> tokenizer_;
    static std::unique_ptr<ChatTemplate> chat_template_;
};

std::unique_ptr<Tokenizer> LongBenchReal::tokenizer_;
std::unique_ptr<ChatTemplate> LongBenchReal::chat_template_;

TEST_F(LongBenchReal, EveryTaskFitsTargets) {
    for (const int64_t target : {4096, 1024}) {
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::vector<Sample>> loaded;
        for (const std::string& task : eval::longbench_task_names()) {
            loaded.push_back(eval::load_longbench_file(task_path(task), config_, target, *tokenizer_, *chat_template_));
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cout << "loaded all " << loaded.size() << " LongBench tasks at " << target << " tokens in " << seconds
                  << " s\n";

        for (size_t t = 0; t < loaded.size(); ++t) {
            const std::string& task = eval::longbench_task_names()[t];
            const eval::LongBenchTaskRule& rule = eval::longbench_task_rule(task);
            ASSERT_FALSE(loaded[t].empty()) << task;
            for (const Sample& sample : loaded[t]) {
                const int64_t size = eval::encode_sample(*tokenizer_, *chat_template_, sample).size();
                EXPECT_LE(size, target) << sample.id;
                EXPECT_GT(size, target / 4) << sample.id;
                EXPECT_EQ(sample.id, task + "/" + std::to_string(target) + "/" + std::to_string(sample.index));
                EXPECT_EQ(sample.metric, rule.metric) << sample.id;
                EXPECT_EQ(sample.first_line_only, rule.first_line_only) << sample.id;
                EXPECT_EQ(sample.max_new_tokens, config_.max_new_tokens.at(task)) << sample.id;
                EXPECT_FALSE(sample.references.empty()) << sample.id;
                EXPECT_EQ(sample.all_classes.empty(), task != "trec") << sample.id;

                // The end of the question (the template's tail) survives any cut.
                bool ends_like_template = false;
                for (const auto& format : templates(task)) {
                    if (format.name == sample.template_name && sample.question.ends_with(format.suffix)) {
                        ends_like_template = true;
                    }
                }
                EXPECT_TRUE(ends_like_template) << sample.id << " [" << sample.template_name << "] "
                                                << shorten(sample.question);
            }
        }
    }
}

TEST_F(LongBenchReal, UncutSamplesKeepThePrompt) {
    // No prompt of the shared files is near a million tokens, so nothing is cut.
    constexpr int64_t kTarget = 1 << 20;
    for (const std::string& task : eval::longbench_task_names()) {
        const std::vector<Sample> samples =
            eval::load_longbench_file(task_path(task), config_, kTarget, *tokenizer_, *chat_template_);
        std::ifstream in(task_path(task));
        std::string line;
        for (const Sample& sample : samples) {
            ASSERT_TRUE(std::getline(in, line)) << task;
            const std::string prompt = json::parse(line).at("prompt").get<std::string>();
            EXPECT_EQ(sample.context + sample.question, prompt) << sample.id;
        }
    }
}

}  // namespace
}  // namespace compactor::test
