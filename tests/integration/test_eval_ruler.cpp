// compactor-test-libs: compactor_eval
// RULER-style task generators on the real SmolLM2 tokenizer: sizing to the
// target length, determinism, references that the context supports, no leak
// of the question into the context, and errors for bad requests.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/prompt_tokens.h"
#include "eval/ruler.h"
#include "eval/ruler_builtin.h"
#include "eval/ruler_essay.h"
#include "eval/ruler_layout.h"
#include "eval/ruler_random.h"
#include "gguf/gguf_file.h"
#include "support/paths.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace compactor::eval {
namespace {

constexpr uint64_t kSeed = 42;

bool is_needle_task(const std::string& task) {
    return task.starts_with("niah_");
}

bool is_qa_task(const std::string& task) {
    return task == "qa_1" || task == "qa_2";
}

// Tasks that run on built-in words and noise, with no data folder.
const std::vector<std::string>& builtin_tasks() {
    static const std::vector<std::string> tasks = {"niah_single_1", "niah_multikey_2", "niah_multikey_3",
                                                   "vt",            "cwe",             "fwe"};
    return tasks;
}

int64_t expected_answer_tokens(const std::string& task) {
    if (is_needle_task(task)) return 128;
    if (task == "vt") return 30;
    if (task == "cwe") return 120;
    if (task == "fwe") return 50;
    return 32;
}

size_t count_occurrences(const std::string& text, const std::string& needle) {
    size_t count = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
}

std::string after(const std::string& text, const std::string& marker) {
    const size_t at = text.find(marker);
    if (at == std::string::npos) return {};
    return text.substr(at + marker.size());
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// One tokenizer and two generators per test process: with the data folder
// (when present) and with built-in words only.
class RulerTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string model = compactor::test::real_model_path();
        if (!std::filesystem::is_regular_file(model)) return;
        file_ = gguf::GgufFile::open(model);
        tokenizer_ = std::make_unique<Tokenizer>(read_vocab(*file_));
        chat_template_ = std::make_unique<ChatTemplate>(ChatTemplate::from_gguf(*file_));
        builtin_ = std::make_unique<RulerGenerator>("", *tokenizer_, *chat_template_);
        data_dir_ = compactor::test::shared_data_dir();
        if (!data_dir_.empty()) with_data_ = std::make_unique<RulerGenerator>(data_dir_, *tokenizer_, *chat_template_);
    }

    static void TearDownTestSuite() {
        with_data_.reset();
        builtin_.reset();
        chat_template_.reset();
        tokenizer_.reset();
        file_.reset();
    }

    void SetUp() override {
        ASSERT_NE(tokenizer_, nullptr) << "the real model is missing at " << compactor::test::real_model_path()
                                       << "; run scripts/fetch_model.sh (or set COMPACTOR_MODEL)";
    }

    // The generator for `task`: built-in when the task needs no data.
    static const RulerGenerator* generator_for(const std::string& task) {
        const auto& builtin = builtin_tasks();
        if (std::find(builtin.begin(), builtin.end(), task) != builtin.end() && with_data_ == nullptr) {
            return builtin_.get();
        }
        return with_data_.get();
    }

    static int64_t length(const Sample& sample) { return sized_length(*tokenizer_, *chat_template_, sample); }

    static std::unique_ptr<gguf::GgufFile> file_;
    static std::unique_ptr<Tokenizer> tokenizer_;
    static std::unique_ptr<ChatTemplate> chat_template_;
    static std::unique_ptr<RulerGenerator> builtin_;
    static std::unique_ptr<RulerGenerator> with_data_;
    static std::string data_dir_;
};

std::unique_ptr<gguf::GgufFile> RulerTest::file_;
std::unique_ptr<Tokenizer> RulerTest::tokenizer_;
std::unique_ptr<ChatTemplate> RulerTest::chat_template_;
std::unique_ptr<RulerGenerator> RulerTest::builtin_;
std::unique_ptr<RulerGenerator> RulerTest::with_data_;
std::string RulerTest::data_dir_;

// ---- Checks of what each task's references mean ----

// Needles: every reference sits in a needle sentence, and the keys of those
// needles are the ones the question names. Each such key occurs in the
// context exactly as often as it has needles, so nothing else singles it out.
void check_needles(const Sample& sample) {
    std::map<std::string, size_t> needles_per_key;
    for (const std::string& reference : sample.references) {
        const std::string tail = " is " + reference + ".";
        const size_t at = sample.context.find(tail);
        ASSERT_NE(at, std::string::npos) << "reference " << reference << " is not in a needle";
        EXPECT_EQ(count_occurrences(sample.context, reference), 1u) << reference;

        const size_t start = sample.context.rfind("A special magic ", at);
        ASSERT_NE(start, std::string::npos);
        const size_t key_start = sample.context.find(" for ", start) + 5;
        const std::string key = sample.context.substr(key_start, at - key_start);
        ++needles_per_key[key];
        EXPECT_NE(sample.question.find(key), std::string::npos) << "asked key " << key << " is not in the question";
        EXPECT_NE(sample.answer_prefix.find(key), std::string::npos) << key;
    }
    for (const auto& [key, n_needles] : needles_per_key) {
        EXPECT_EQ(count_occurrences(sample.context, key), n_needles) << "key " << key;
    }

    const std::map<std::string, size_t> expected_references = {
        {"niah_multivalue", 4}, {"niah_multiquery", 4}};
    const auto expected = expected_references.count(sample.task) ? expected_references.at(sample.task) : 1u;
    EXPECT_EQ(sample.references.size(), expected);
    EXPECT_EQ(needles_per_key.size(), sample.task == "niah_multiquery" ? 4u : 1u);

    const bool uuid_values = sample.task == "niah_single_3" || sample.task == "niah_multikey_3";
    for (const std::string& reference : sample.references) {
        if (uuid_values) {
            EXPECT_EQ(reference.size(), 36u) << reference;
            EXPECT_EQ(reference[14], '4') << reference;
        } else {
            EXPECT_EQ(reference.size(), 7u) << reference;
            EXPECT_TRUE(std::all_of(reference.begin(), reference.end(), ::isdigit)) << reference;
        }
    }
    const size_t n_needles = count_occurrences(sample.context, "A special magic ");
    if (sample.task == "niah_multikey_1" || sample.task == "niah_multiquery" || sample.task == "niah_multivalue") {
        EXPECT_EQ(n_needles, 4u);
    } else if (sample.task == "niah_multikey_2" || sample.task == "niah_multikey_3") {
        EXPECT_GT(n_needles, 5u);  // the haystack is distractor needles
    } else {
        EXPECT_EQ(n_needles, 1u);
    }
}

// vt: the question's number starts the chain, each reference copies the
// previous one, and the statements come in chain order.
void check_variable_chain(const Sample& sample) {
    ASSERT_EQ(sample.references.size(), 5u);
    const std::string marker = "hold the value ";
    const size_t at = sample.question.find(marker);
    ASSERT_NE(at, std::string::npos) << sample.question;
    const std::string value = sample.question.substr(at + marker.size(), 5);

    const std::string haystack = after(sample.context, "The text for the question:");
    ASSERT_FALSE(haystack.empty());
    size_t previous = haystack.find("VAR " + sample.references[0] + " = " + value + "\n");
    ASSERT_NE(previous, std::string::npos) << "chain head with " << value;
    EXPECT_EQ(count_occurrences(sample.context, value), 1u) << value;
    for (size_t i = 1; i < sample.references.size(); ++i) {
        const std::string statement = "VAR " + sample.references[i] + " = VAR " + sample.references[i - 1];
        const size_t position = haystack.find(statement);
        ASSERT_NE(position, std::string::npos) << statement;
        EXPECT_GT(position, previous) << statement;
        previous = position;
    }
    for (const std::string& name : sample.references) {
        EXPECT_EQ(name.size(), 5u);
        EXPECT_TRUE(std::all_of(name.begin(), name.end(), ::isupper)) << name;
    }
}

// cwe: the references occur 6 (30 from 4096 tokens) times each in the task's
// list, every other word once (3 times), and the list is numbered from 1.
void check_common_words(const Sample& sample) {
    ASSERT_EQ(sample.references.size(), 10u);
    std::istringstream lines(after(sample.context, "The list for the question:\n"));
    std::map<std::string, int> counts;
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        const std::string prefix = std::to_string(number) + ". ";
        ASSERT_TRUE(line.starts_with(prefix)) << line;
        ++counts[line.substr(prefix.size())];
    }
    const bool long_list = sample.target_tokens >= 4096;
    for (const std::string& reference : sample.references) {
        EXPECT_EQ(counts[reference], long_list ? 30 : 6) << reference;
    }
    for (const auto& [word, count] : counts) {
        if (std::find(sample.references.begin(), sample.references.end(), word) != sample.references.end()) continue;
        EXPECT_EQ(count, long_list ? 3 : 1) << word;
        for (const std::string& reference : sample.references) {
            EXPECT_EQ(word.find(reference), std::string::npos) << word << " contains " << reference;
        }
    }
    EXPECT_GE(counts.size(), 20u);
}

// fwe: the dots are the most frequent token, and the references are the
// next three, each more frequent than every other coded word.
void check_frequent_words(const Sample& sample) {
    ASSERT_EQ(sample.references.size(), 3u);
    const size_t start = sample.context.find("\n\n");
    ASSERT_NE(start, std::string::npos);
    std::istringstream words(sample.context.substr(start + 2));
    std::map<std::string, int> counts;
    std::string word;
    while (words >> word) ++counts[word];

    std::vector<std::pair<int, std::string>> ranked;
    for (const auto& [w, count] : counts) ranked.emplace_back(count, w);
    std::sort(ranked.rbegin(), ranked.rend());
    ASSERT_GE(ranked.size(), 5u);
    EXPECT_EQ(ranked[0].second, "......");
    EXPECT_GT(ranked[0].first, ranked[1].first);
    EXPECT_GT(ranked[3].first, ranked[4].first) << "the 4th and 5th ranks tie";
    const std::set<std::string> expected = {ranked[1].second, ranked[2].second, ranked[3].second};
    const std::set<std::string> references(sample.references.begin(), sample.references.end());
    EXPECT_EQ(references, expected);
    for (const auto& [count, w] : ranked) {
        if (w == "......") continue;
        EXPECT_EQ(w.size(), 6u) << w;
    }
}

// Documents are labelled 1..n in order.
void check_document_labels(const Sample& sample) {
    const size_t n = count_occurrences(sample.context, "Document ");
    ASSERT_GE(n, 1u);
    for (size_t i = 1; i <= n; ++i) {
        EXPECT_NE(sample.context.find("Document " + std::to_string(i) + ":\n"), std::string::npos) << i;
    }
}

// qa_1: the question is a SQuAD question whose paragraph is in the context
// and whose answers are the references.
void check_squad(const Sample& sample, const std::string& data_dir) {
    static const nlohmann::json squad =
        nlohmann::json::parse(read_file(data_dir + "/qa/squad_v2_dev_first_half.json"));
    const std::string question = after(sample.question, "Question: ");
    bool found = false;
    for (const auto& article : squad.at("data")) {
        for (const auto& paragraph : article.at("paragraphs")) {
            for (const auto& qa : paragraph.at("qas")) {
                if (qa.at("question").get<std::string>() != question || qa.value("is_impossible", false)) continue;
                found = true;
                const std::string text = paragraph.at("context").get<std::string>();
                EXPECT_EQ(count_occurrences(sample.context, text), 1u) << "gold paragraph";
                for (const std::string& reference : sample.references) {
                    EXPECT_NE(text.find(reference), std::string::npos) << reference;
                }
            }
        }
    }
    EXPECT_TRUE(found) << question;
    check_document_labels(sample);
}

// qa_2: the question is a HotpotQA question; its supporting paragraphs are
// in the context and its answer is the reference.
void check_hotpot(const Sample& sample, const std::string& data_dir) {
    static const std::vector<nlohmann::json> examples = [&] {
        std::vector<nlohmann::json> out;
        std::istringstream lines(read_file(data_dir + "/qa/hotpotqa_dev_distractor_500.jsonl"));
        std::string line;
        while (std::getline(lines, line)) out.push_back(nlohmann::json::parse(line));
        return out;
    }();
    const std::string question = after(sample.question, "Question: ");
    const nlohmann::json* example = nullptr;
    for (const nlohmann::json& e : examples) {
        if (e.at("question").get<std::string>() == question) example = &e;
    }
    ASSERT_NE(example, nullptr) << question;
    ASSERT_EQ(sample.references, std::vector<std::string>{example->at("answer").get<std::string>()});

    std::set<std::string> supporting;
    for (const auto& fact : example->at("supporting_facts")) supporting.insert(fact.at(0).get<std::string>());
    size_t found = 0;
    for (const auto& entry : example->at("context")) {
        if (!supporting.count(entry.at(0).get<std::string>())) continue;
        std::string text;
        for (const auto& sentence : entry.at(1)) text += sentence.get<std::string>();
        EXPECT_NE(sample.context.find(entry.at(0).get<std::string>() + "\n" + text), std::string::npos)
            << entry.at(0);
        ++found;
    }
    EXPECT_EQ(found, supporting.size()) << "an asked example lacks a supporting paragraph";
    check_document_labels(sample);
}

// ---- Every task at 1024 and 4096 tokens ----

struct TaskLength {
    std::string task;
    int64_t target_tokens;
};

void PrintTo(const TaskLength& value, std::ostream* os) {
    *os << value.task << " at " << value.target_tokens << " tokens";
}

std::string task_length_name(const ::testing::TestParamInfo<TaskLength>& info) {
    return info.param.task + "_" + std::to_string(info.param.target_tokens);
}

std::vector<TaskLength> all_task_lengths() {
    std::vector<TaskLength> out;
    for (const int64_t target : {1024, 4096}) {
        for (const std::string& task : ruler_task_names()) out.push_back({task, target});
    }
    return out;
}

class RulerTaskTest : public RulerTest, public ::testing::WithParamInterface<TaskLength> {
protected:
    void SetUp() override {
        RulerTest::SetUp();
        if (generator_for(GetParam().task) == nullptr) {
            GTEST_SKIP() << "the evaluation data folder is missing next to the repository; " << GetParam().task
                         << " needs it";
        }
    }
};

TEST_P(RulerTaskTest, HeaderFields) {
    const auto& [task, target] = GetParam();
    const Sample sample = generator_for(task)->generate(task, 3, target, kSeed);
    EXPECT_EQ(sample.id, task + "/" + std::to_string(target) + "/3");
    EXPECT_EQ(sample.suite, "ruler");
    EXPECT_EQ(sample.task, task);
    EXPECT_EQ(sample.seed, kSeed);
    EXPECT_EQ(sample.index, 3);
    EXPECT_EQ(sample.target_tokens, target);
    EXPECT_EQ(sample.metric, is_qa_task(task) ? "string_match_any" : "string_match_all");
    EXPECT_EQ(sample.template_name, "ruler/" + task);
    EXPECT_EQ(sample.max_new_tokens, expected_answer_tokens(task));
    EXPECT_FALSE(sample.answer_prefix.empty());
    EXPECT_FALSE(sample.references.empty());
    EXPECT_TRUE(sample.all_classes.empty());
    EXPECT_FALSE(sample.first_line_only);
}

TEST_P(RulerTaskTest, SizedToTarget) {
    const auto& [task, target] = GetParam();
    for (const int64_t index : {0, 1, 2}) {
        const Sample sample = generator_for(task)->generate(task, index, target, kSeed);
        const int64_t sized = length(sample);
        EXPECT_LE(sized, target) << sample.id;
        EXPECT_GE(sized * 10, target * 9) << sample.id << " is " << sized << " tokens";
    }
}

TEST_P(RulerTaskTest, SameRequestSameSample) {
    const auto& [task, target] = GetParam();
    const Sample first = generator_for(task)->generate(task, 5, target, kSeed);
    const Sample second = generator_for(task)->generate(task, 5, target, kSeed);
    EXPECT_EQ(to_json(first).dump(), to_json(second).dump());
}

TEST_P(RulerTaskTest, IndicesAndSeedsDiffer) {
    const auto& [task, target] = GetParam();
    const Sample base = generator_for(task)->generate(task, 0, target, kSeed);
    const Sample next_index = generator_for(task)->generate(task, 1, target, kSeed);
    const Sample next_seed = generator_for(task)->generate(task, 0, target, kSeed + 1);
    EXPECT_NE(base.context, next_index.context);
    EXPECT_NE(base.references, next_index.references);
    EXPECT_NE(base.context, next_seed.context);
    EXPECT_NE(base.references, next_seed.references);
}

TEST_P(RulerTaskTest, QuestionNotInContext) {
    const auto& [task, target] = GetParam();
    for (const int64_t index : {0, 1}) {
        const Sample sample = generator_for(task)->generate(task, index, target, kSeed);
        ASSERT_TRUE(sample.question.starts_with("\n\n")) << sample.question;
        const std::string question = sample.question.substr(2);
        EXPECT_EQ(sample.context.find(question), std::string::npos) << question;
        EXPECT_EQ(sample.context.find(sample.answer_prefix), std::string::npos) << sample.answer_prefix;
    }
}

TEST_P(RulerTaskTest, ReferencesSupportedByContext) {
    const auto& [task, target] = GetParam();
    for (const int64_t index : {0, 1}) {
        const Sample sample = generator_for(task)->generate(task, index, target, kSeed);
        SCOPED_TRACE(sample.id);
        if (is_needle_task(task)) check_needles(sample);
        if (task == "vt") check_variable_chain(sample);
        if (task == "cwe") check_common_words(sample);
        if (task == "fwe") check_frequent_words(sample);
        if (task == "qa_1") check_squad(sample, data_dir_);
        if (task == "qa_2") check_hotpot(sample, data_dir_);
    }
}

INSTANTIATE_TEST_SUITE_P(AllTasks, RulerTaskTest, ::testing::ValuesIn(all_task_lengths()), task_length_name);

// ---- Other lengths, data and errors ----

TEST_F(RulerTest, TaskNamesListThirteen) {
    EXPECT_EQ(ruler_task_names().size(), 13u);
    const std::set<std::string> unique(ruler_task_names().begin(), ruler_task_names().end());
    EXPECT_EQ(unique.size(), 13u);
}

TEST_F(RulerTest, ShortAndLongTargets) {
    for (const std::string task : {"niah_single_1", "niah_multikey_2", "vt", "fwe"}) {
        const Sample sample = builtin_->generate(task, 0, 512, kSeed);
        EXPECT_LE(length(sample), 512) << task;
        EXPECT_GE(length(sample), 430) << task;
    }
    if (with_data_ == nullptr) GTEST_SKIP() << "the evaluation data folder is missing; 8192-token checks need it";
    for (const std::string& task : ruler_task_names()) {
        const Sample sample = with_data_->generate(task, 0, 8192, kSeed);
        EXPECT_LE(length(sample), 8192) << task;
        EXPECT_GE(length(sample) * 10, 8192 * 9) << task;
    }
}

TEST_F(RulerTest, BuiltinTasksNeedNoData) {
    std::set<std::string> builtin_words(builtin_adjectives().begin(), builtin_adjectives().end());
    builtin_words.insert(builtin_nouns().begin(), builtin_nouns().end());
    builtin_words.insert(builtin_verbs().begin(), builtin_verbs().end());

    for (const std::string& task : builtin_tasks()) {
        const Sample sample = builtin_->generate(task, 0, 1024, kSeed);
        EXPECT_LE(length(sample), 1024) << task;
        EXPECT_GE(length(sample) * 10, 1024 * 9) << task;
    }

    const Sample cwe = builtin_->generate("cwe", 0, 1024, kSeed);
    for (const std::string& word : cwe.references) EXPECT_TRUE(builtin_words.count(word)) << word;

    // The noise haystack: every line but the needle is the filler line.
    const Sample single = builtin_->generate("niah_single_1", 0, 1024, kSeed);
    std::istringstream lines(after(single.context, "\n\n"));
    std::string line;
    size_t n_noise = 0;
    size_t n_needles = 0;
    while (std::getline(lines, line)) {
        if (line == noise_line()) {
            ++n_noise;
        } else {
            EXPECT_TRUE(line.starts_with("A special magic number for ")) << line;
            ++n_needles;
        }
    }
    EXPECT_EQ(n_needles, 1u);
    EXPECT_GT(n_noise, 10u);
}

// Pins one sample per family so that a change to the draws (which would
// change every published number) is noticed.
TEST_F(RulerTest, BuiltinSamplesPinned) {
    const Sample single = builtin_->generate("niah_single_1", 0, 1024, 7);
    const Sample vt = builtin_->generate("vt", 0, 1024, 7);
    const Sample fwe = builtin_->generate("fwe", 0, 1024, 7);
    EXPECT_EQ(single.references, std::vector<std::string>{"3270460"});
    EXPECT_EQ(vt.references, (std::vector<std::string>{"YNORU", "NXLVP", "QJVMX", "RAPHG", "LPHXZ"}));
    EXPECT_EQ(fwe.references, (std::vector<std::string>{"yfjbmd", "osgrch", "cmgopg"}));
}

TEST_F(RulerTest, SampleRandomPinned) {
    EXPECT_EQ(sample_seed(7, "niah_single_1", 0, 1024), 16455722825161737544ULL);
    SampleRandom random(12345);
    EXPECT_EQ(random.next_u64(), 6597103971274460346ULL);
    std::vector<uint64_t> draws;
    for (int i = 0; i < 5; ++i) draws.push_back(random.below(1000));
    EXPECT_EQ(draws, (std::vector<uint64_t>{521, 285, 954, 996, 45}));
}

TEST_F(RulerTest, UnknownTaskListsNames) {
    try {
        builtin_->generate("niah_single_9", 0, 1024, kSeed);
        FAIL() << "no error for an unknown task";
    } catch (const std::invalid_argument& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("unknown ruler task 'niah_single_9'"), std::string::npos) << message;
        EXPECT_NE(message.find("niah_single_1"), std::string::npos) << message;
        EXPECT_NE(message.find("qa_2"), std::string::npos) << message;
    }
}

TEST_F(RulerTest, BadIndexOrTargetRejected) {
    EXPECT_THROW(builtin_->generate("vt", -1, 1024, kSeed), std::invalid_argument);
    EXPECT_THROW(builtin_->generate("vt", 0, 0, kSeed), std::invalid_argument);
    EXPECT_THROW(builtin_->generate("vt", 0, -5, kSeed), std::invalid_argument);
}

// The error names the shortest sample and advises a target that works for
// other samples too. Returns the advice.
int64_t check_too_small_target(const RulerGenerator& generator, const std::string& task) {
    int64_t shortest = 0;
    int64_t advice = 0;
    try {
        generator.generate(task, 0, 100, kSeed);
        ADD_FAILURE() << task << ": no error for a 100-token target";
    } catch (const std::invalid_argument& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("ruler task '" + task + "'"), std::string::npos) << message;
        EXPECT_NE(message.find("a target of 100 tokens is too small"), std::string::npos) << message;
        const std::string takes = after(message, "shortest sample takes ");
        const std::string use = after(message, "use at least ");
        EXPECT_FALSE(takes.empty()) << message;
        EXPECT_FALSE(use.empty()) << message;
        if (takes.empty() || use.empty()) return 0;
        shortest = std::stoll(takes);
        advice = std::stoll(use);
    }
    EXPECT_GT(shortest, 100) << task;
    EXPECT_GE(advice, shortest + 64) << task;
    for (const int64_t index : {0, 1, 2, 3, 4, 5, 6, 7}) {
        EXPECT_NO_THROW(generator.generate(task, index, advice, kSeed)) << task << " at " << advice;
    }
    return advice;
}

TEST_F(RulerTest, TooSmallTargetNamesMinimum) {
    for (const std::string& task : builtin_tasks()) check_too_small_target(*builtin_, task);
    EXPECT_THROW(builtin_->generate("cwe", 0, 512, kSeed), std::invalid_argument);
}

TEST_F(RulerTest, TooSmallTargetWithData) {
    if (with_data_ == nullptr) GTEST_SKIP() << "the evaluation data folder is missing";
    for (const std::string& task : ruler_task_names()) check_too_small_target(*with_data_, task);

    // The advice makes room for the longest SQuAD gold paragraph, so it lies
    // far above the 384 tokens that sample 0 alone would need.
    EXPECT_GT(check_too_small_target(*with_data_, "qa_1"), 700);
}

TEST_F(RulerTest, MissingDataNamesFileAndOption) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"niah_single_2", "haystack/"},       {"niah_single_3", "haystack/"},
        {"niah_multikey_1", "haystack/"},     {"niah_multivalue", "haystack/"},
        {"niah_multiquery", "haystack/"},     {"qa_1", "qa/squad_v2_dev_first_half.json"},
        {"qa_2", "qa/hotpotqa_dev_distractor_500.jsonl"},
    };
    for (const auto& [task, file] : cases) {
        try {
            builtin_->generate(task, 0, 1024, kSeed);
            FAIL() << task << ": no error without a data folder";
        } catch (const std::invalid_argument& error) {
            const std::string message = error.what();
            EXPECT_NE(message.find("ruler task '" + task + "'"), std::string::npos) << message;
            EXPECT_NE(message.find(file), std::string::npos) << message;
            EXPECT_NE(message.find("--data-dir"), std::string::npos) << message;
        }
    }
}

TEST_F(RulerTest, EmptyDataFolderNamesPath) {
    const std::filesystem::path empty = std::filesystem::temp_directory_path() / "compactor_ruler_empty_data";
    std::filesystem::create_directories(empty);
    const RulerGenerator generator(empty.string(), *tokenizer_, *chat_template_);
    for (const auto& [task, file] : std::vector<std::pair<std::string, std::string>>{
             {"niah_single_1", "ruler/wonderwords/adjectivelist.txt"},
             {"niah_single_2", "ruler/wonderwords/adjectivelist.txt"},
             {"qa_1", "qa/squad_v2_dev_first_half.json"}}) {
        try {
            generator.generate(task, 0, 1024, kSeed);
            FAIL() << task << ": no error with an empty data folder";
        } catch (const std::invalid_argument& error) {
            const std::string message = error.what();
            EXPECT_NE(message.find("data file not found"), std::string::npos) << message;
            EXPECT_NE(message.find(empty.string()), std::string::npos) << message;
            EXPECT_NE(message.find(file), std::string::npos) << message;
            EXPECT_NE(message.find("--data-dir"), std::string::npos) << message;
        }
    }
    // Tasks with UUID keys need no word list, so they still run.
    EXPECT_NO_THROW(generator.generate("niah_multikey_3", 0, 1024, kSeed));
    std::filesystem::remove_all(empty);
}

TEST_F(RulerTest, FourKSampleUnderOneSecond) {
    if (with_data_ == nullptr) GTEST_SKIP() << "the evaluation data folder is missing";
    for (const std::string& task : ruler_task_names()) {
        with_data_->generate(task, 100, 4096, kSeed);  // reads the task's files
        const auto start = std::chrono::steady_clock::now();
        with_data_->generate(task, 0, 4096, kSeed);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_LT(seconds, 1.0) << task;
        std::printf("ruler %-16s 4096 tokens: %.1f ms\n", task.c_str(), seconds * 1000.0);
    }
}

// ---- Helpers ----

TEST(RulerHelpers, GutenbergBodyBetweenMarkers) {
    const std::string text = "Header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nBody line.\n"
                             "***END OF THE PROJECT GUTENBERG EBOOK X***\nLicence\n";
    EXPECT_EQ(gutenberg_body(text), "\nBody line.\n");
    EXPECT_EQ(gutenberg_body("no markers here"), "");
    EXPECT_EQ(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
}

TEST(RulerHelpers, SentencesSplitAndCapped) {
    const std::string text =
        "Mr. Smith came home. He said \"Hello!\" Then   he\nsat down?\n\nCHAPTER II\n\n"
        "A note from Project Gutenberg.\n\none two three four five six seven, eight nine ten";
    const std::vector<std::string> sentences = split_sentences(text, 6);
    const std::vector<std::string> expected = {
        "Mr. Smith came home.", "He said \"Hello!\"", "Then he sat down?", "CHAPTER II",
        "one two three four five six", "seven, eight nine ten"};
    EXPECT_EQ(sentences, expected);
}

TEST(RulerHelpers, PlacementsSpreadAndOrdered) {
    const std::vector<std::string> units = {"a", "b", "c"};
    EXPECT_EQ(place_at_depths(units, {{0.0, "X"}}), (std::vector<std::string>{"X", "a", "b", "c"}));
    EXPECT_EQ(place_at_depths(units, {{0.99, "X"}}), (std::vector<std::string>{"a", "b", "c", "X"}));
    // 0.3 * 4 = 1.2 falls into gap 1 (before b), 0.6 * 4 = 2.4 into gap 2.
    EXPECT_EQ(place_at_depths(units, {{0.6, "Y"}, {0.3, "X"}}),
              (std::vector<std::string>{"a", "X", "b", "Y", "c"}));
    EXPECT_EQ(place_at_depths({}, {{0.5, "X"}, {0.7, "Y"}}), (std::vector<std::string>{"X", "Y"}));
}

TEST(RulerHelpers, RandomBelowIsUniform) {
    SampleRandom random(1);
    std::vector<int> counts(10, 0);
    for (int i = 0; i < 100000; ++i) ++counts[random.below(10)];
    for (const int count : counts) {
        EXPECT_GT(count, 9500);
        EXPECT_LT(count, 10500);
    }
    for (int i = 0; i < 1000; ++i) {
        const double u = random.unit();
        EXPECT_GE(u, 0.0);
        EXPECT_LT(u, 1.0);
        const int64_t v = random.between(-3, 3);
        EXPECT_GE(v, -3);
        EXPECT_LE(v, 3);
    }
    EXPECT_THROW(random.below(0), std::invalid_argument);
}

}  // namespace
}  // namespace compactor::eval
