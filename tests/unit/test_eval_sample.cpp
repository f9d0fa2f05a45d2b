// compactor-test-libs: compactor_eval
// Sample <-> JSON: a lossless round trip, defaults for optional fields, and
// errors that name the missing or mistyped field.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/sample.h"

namespace compactor::eval {
namespace {

Sample full_sample() {
    Sample sample;
    sample.id = "niah_single_2/4096/17";
    sample.suite = "ruler";
    sample.task = "niah_single_2";
    sample.seed = 18446744073709551557ULL;  // above INT64_MAX, so it must stay unsigned
    sample.index = 17;
    sample.target_tokens = 4096;
    sample.context = "Instructions.\n\nLine one \"quoted\"\tand a tab.\nÜnïcödé ✓ and <|im_end|> as text.";
    sample.question = "\n\nWhat is the special magic number for calm-otter in the text above?";
    sample.answer_prefix = "The special magic number for calm-otter in the text above is";
    sample.references = {"1234567", "7654321"};
    sample.all_classes = {"Location", "Person"};
    sample.metric = "string_match_all";
    sample.first_line_only = true;
    sample.template_name = "ruler/niah_single_2";
    sample.max_new_tokens = 128;
    return sample;
}

void expect_same(const Sample& a, const Sample& b) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.suite, b.suite);
    EXPECT_EQ(a.task, b.task);
    EXPECT_EQ(a.seed, b.seed);
    EXPECT_EQ(a.index, b.index);
    EXPECT_EQ(a.target_tokens, b.target_tokens);
    EXPECT_EQ(a.context, b.context);
    EXPECT_EQ(a.question, b.question);
    EXPECT_EQ(a.answer_prefix, b.answer_prefix);
    EXPECT_EQ(a.references, b.references);
    EXPECT_EQ(a.all_classes, b.all_classes);
    EXPECT_EQ(a.metric, b.metric);
    EXPECT_EQ(a.first_line_only, b.first_line_only);
    EXPECT_EQ(a.template_name, b.template_name);
    EXPECT_EQ(a.max_new_tokens, b.max_new_tokens);
}

std::string error_of(const nlohmann::json& json) {
    try {
        sample_from_json(json);
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
    return "(no error)";
}

TEST(EvalSample, RoundTripThroughText) {
    const Sample original = full_sample();
    const std::string text = to_json(original).dump();
    const Sample parsed = sample_from_json(nlohmann::json::parse(text));
    expect_same(original, parsed);
    EXPECT_EQ(to_json(parsed).dump(), text);
}

TEST(EvalSample, JsonHasEveryField) {
    const nlohmann::json json = to_json(full_sample());
    for (const char* name : {"id", "suite", "task", "seed", "index", "target_tokens", "context", "question",
                             "answer_prefix", "references", "all_classes", "metric", "first_line_only",
                             "template_name", "max_new_tokens"}) {
        EXPECT_TRUE(json.contains(name)) << name;
    }
    EXPECT_EQ(json.at("seed").get<uint64_t>(), 18446744073709551557ULL);
    EXPECT_EQ(json.at("references").size(), 2u);
}

TEST(EvalSample, MissingRequiredFieldNamed) {
    for (const char* name :
         {"id", "suite", "task", "context", "question", "references", "metric", "max_new_tokens"}) {
        nlohmann::json json = to_json(full_sample());
        json.erase(name);
        const std::string message = error_of(json);
        EXPECT_NE(message.find("missing field"), std::string::npos) << message;
        EXPECT_NE(message.find(std::string("'") + name + "'"), std::string::npos) << message;
    }
}

TEST(EvalSample, OptionalFieldsDefault) {
    nlohmann::json json = to_json(full_sample());
    for (const char* name :
         {"seed", "index", "target_tokens", "answer_prefix", "all_classes", "first_line_only", "template_name"}) {
        json.erase(name);
    }
    const Sample sample = sample_from_json(json);
    EXPECT_EQ(sample.seed, 0u);
    EXPECT_EQ(sample.index, 0);
    EXPECT_EQ(sample.target_tokens, 0);
    EXPECT_EQ(sample.answer_prefix, "");
    EXPECT_TRUE(sample.all_classes.empty());
    EXPECT_FALSE(sample.first_line_only);
    EXPECT_EQ(sample.template_name, "");
    EXPECT_EQ(sample.references, full_sample().references);
}

TEST(EvalSample, MistypedFieldNamed) {
    struct Case {
        const char* field;
        nlohmann::json value;
        const char* expected;  // part of the message
    };
    const std::vector<Case> cases = {
        {"id", 5, "'id' must be a string, got number"},
        {"references", "1234567", "'references' must be an array of strings"},
        {"references", nlohmann::json::array({"a", 7}), "'references' item 1 must be a string, got number"},
        {"all_classes", nlohmann::json::array({nullptr}), "'all_classes' item 0 must be a string, got null"},
        {"max_new_tokens", "64", "'max_new_tokens' must be an integer, got string"},
        {"max_new_tokens", 1.5, "'max_new_tokens' must be an integer, got number"},
        {"max_new_tokens", 0, "'max_new_tokens' must be positive, got 0"},
        {"seed", -3, "'seed' must be a non-negative integer"},
        {"index", 18446744073709551615ULL, "'index' is out of range"},
        {"first_line_only", 1, "'first_line_only' must be true or false, got number"},
    };
    for (const Case& c : cases) {
        nlohmann::json json = to_json(full_sample());
        json[c.field] = c.value;
        const std::string message = error_of(json);
        EXPECT_NE(message.find(c.expected), std::string::npos) << "field " << c.field << ": " << message;
    }
}

TEST(EvalSample, NonObjectRejected) {
    EXPECT_NE(error_of(nlohmann::json::array()).find("expected a JSON object, got array"), std::string::npos);
    EXPECT_NE(error_of(nlohmann::json("text")).find("expected a JSON object, got string"), std::string::npos);
}

}  // namespace
}  // namespace compactor::eval
