// compactor-test-libs: compactor_eval
// Answer metrics on small hand-computed cases: text normalisation, token F1,
// ROUGE-L, edit similarity, classification, counts, retrieval, string match,
// and score_prediction's post-processing and errors.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eval/metrics.h"
#include "eval/metrics_edit.h"
#include "eval/metrics_match.h"
#include "eval/metrics_qa.h"
#include "eval/metrics_rouge.h"
#include "eval/metrics_text.h"
#include "eval/sample.h"

namespace compactor::eval {
namespace {

using Strings = std::vector<std::string>;

Sample sample_for(const std::string& metric, Strings references, bool first_line_only = false) {
    Sample sample;
    sample.id = "unit/0";
    sample.metric = metric;
    sample.references = std::move(references);
    sample.first_line_only = first_line_only;
    return sample;
}

TEST(MetricsText, SplitWhitespaceUsesPythonSpaces) {
    EXPECT_EQ(split_whitespace("  a\tb\n\u00a0c\u3000d\x1c" "e  "), (Strings{"a", "b", "c", "d", "e"}));
    EXPECT_TRUE(split_whitespace(" \t\n").empty());
    EXPECT_TRUE(split_whitespace("").empty());
}

TEST(MetricsText, PythonLowerHandlesSpecialCases) {
    EXPECT_EQ(python_lower("ÀÉÎ Straße"), "àéî straße");
    EXPECT_EQ(python_lower("İ"), "i\u0307");
    EXPECT_EQ(python_lower("ΟΔΟΣ ΣΑΣ Σ"), "οδος σας σ");
    EXPECT_EQ(python_lower("ABC"), "abc");
}

TEST(MetricsText, InvalidUtf8BecomesReplacementCharacter) {
    EXPECT_EQ(to_code_points("a\xffz"), (std::u32string{U'a', 0xFFFD, U'z'}));
    EXPECT_EQ(to_utf8(std::u32string{0x20AC, 0x1F600}), "\u20ac\U0001F600");
}

TEST(MetricsText, FirstLineSkipsLeadingNewlines) {
    EXPECT_EQ(first_line("\n\nanswer\nmore"), "answer");
    EXPECT_EQ(first_line("answer"), "answer");
    EXPECT_EQ(first_line("\n\n"), "");
    EXPECT_EQ(first_line(" \nx"), " ");
}

TEST(MetricsQa, NormalizeAnswerRemovesArticlesAndPunctuation) {
    EXPECT_EQ(normalize_answer("The  Beatles, an English band!"), "beatles english band");
    EXPECT_EQ(normalize_answer("a"), "");
    EXPECT_EQ(normalize_answer("anthem théâtre"), "anthem théâtre");
    EXPECT_EQ(normalize_answer("the_end"), "theend");
}

TEST(MetricsQa, TokenF1HandComputed) {
    // Overlap 1 of 3 predicted and 1 of 1 reference token: P = 1/3, R = 1, F1 = 0.5.
    EXPECT_DOUBLE_EQ(qa_f1_score("born in Paris", "Paris"), 0.5);

    // Multiset overlap: {cat, dog} of "cat cat cat dog" and "cat dog dog": P = 2/4, R = 2/3, F1 = 4/7.
    EXPECT_DOUBLE_EQ(qa_f1_score("cat cat cat dog", "cat dog dog"), 4.0 / 7.0);

    EXPECT_DOUBLE_EQ(qa_f1_score("The Beatles", "beatles"), 1.0);
    EXPECT_DOUBLE_EQ(qa_f1_score("", "Paris"), 0.0);
    EXPECT_DOUBLE_EQ(qa_f1_score("Paris", ""), 0.0);
    EXPECT_DOUBLE_EQ(qa_f1_score("the", "a"), 0.0);
}

TEST(MetricsRouge, SentencesSplitOnPeriods) {
    EXPECT_EQ(rouge_sentences("A  b. C\td. "), (Strings{"A b", "C d", ""}));
    EXPECT_TRUE(rouge_sentences("...").empty());
    EXPECT_TRUE(rouge_sentences("").empty());
}

TEST(MetricsRouge, HandComputedScores) {
    // Identical: P = R = 1, F = 2 / (2 + 1e-8).
    EXPECT_DOUBLE_EQ(rouge_l_score("a b c", "a b c"), 2.0 * (1.0 / (2.0 + 1e-8)));

    // LCS of "a x b" and "a b c" is {a, b}: P = 2/3, R = 2/3.
    const double p = 2.0 / 3.0;
    EXPECT_DOUBLE_EQ(rouge_l_score("a x b", "a b c"), 2.0 * ((p * p) / (p + p + 1e-8)));

    // Distinct words count once: the union {the} against 1 distinct predicted and 3 reference words.
    const double recall = 1.0 / 3.0;
    EXPECT_DOUBLE_EQ(rouge_l_score("the the the", "the cat the dog"), 2.0 * ((1.0 * recall) / (1.0 + recall + 1e-8)));

    EXPECT_DOUBLE_EQ(rouge_l_score("The Cat", "the cat"), 0.0);
    EXPECT_DOUBLE_EQ(rouge_l_score("", "a b"), 0.0);
    EXPECT_DOUBLE_EQ(rouge_l_score("a b", "..."), 0.0);
}

TEST(MetricsEdit, SequenceMatcherRatio) {
    // difflib: "abxcd" vs "abcd" matches "ab" and "cd": 2·4 / 9.
    EXPECT_DOUBLE_EQ(sequence_matcher_ratio(U"abxcd", U"abcd"), 8.0 / 9.0);
    EXPECT_DOUBLE_EQ(sequence_matcher_ratio(U"", U""), 1.0);
    EXPECT_DOUBLE_EQ(sequence_matcher_ratio(U"abc", U"xyz"), 0.0);

    // Ratcliff-Obershelp is not an LCS: " abcd" vs "abcd abcd" takes the
    // longest block " abcd" at the end of b, which leaves nothing before it.
    EXPECT_DOUBLE_EQ(sequence_matcher_ratio(U" abcd", U"abcd abcd"), 10.0 / 14.0);
}

TEST(MetricsEdit, AutojunkIgnoresPopularCharactersInLongReference) {
    // b has 200 characters, "x" far more than 200/100 + 1 times, so no block
    // can start on an "x" and "yxxx" matches nothing.
    const std::u32string b(200, U'x');
    EXPECT_DOUBLE_EQ(sequence_matcher_ratio(U"yxxx", b), 0.0);

    // difflib still grows the empty block at (0, 0) over equal characters.
    EXPECT_DOUBLE_EQ(sequence_matcher_ratio(U"xxxx", b), 8.0 / 204.0);

    // At 199 characters autojunk is off.
    const std::u32string shorter(199, U'x');
    EXPECT_DOUBLE_EQ(sequence_matcher_ratio(U"yxxx", shorter), 6.0 / 203.0);
}

TEST(MetricsEdit, FuzzRatioRoundsHalfToEven) {
    // One match out of 8 + 8 characters: 12.5 rounds to 12; three: 37.5 to 38.
    EXPECT_DOUBLE_EQ(fuzz_ratio("abcdefgh", "aXYZUVWQ"), 0.12);
    EXPECT_DOUBLE_EQ(fuzz_ratio("abcdefgh", "abcXYZUV"), 0.38);
    EXPECT_DOUBLE_EQ(fuzz_ratio("", ""), 1.0);
    EXPECT_DOUBLE_EQ(fuzz_ratio("", "x"), 0.0);
}

TEST(MetricsEdit, CodeSimSkipsCommentLines) {
    EXPECT_DOUBLE_EQ(code_sim_score("# comment\n```\n// note\nx = 1\ny = 2", "x = 1"), 1.0);
    EXPECT_DOUBLE_EQ(code_sim_score("\n\nx = 1", "x = 1"), 1.0);
    EXPECT_DOUBLE_EQ(code_sim_score("# only comments", "x = 1"), 0.0);
    // "return v" vs "  return v": 2·8 / 18 = 0.888..., 89 after rounding.
    EXPECT_DOUBLE_EQ(code_sim_score("return v", "  return v"), 0.89);
}

TEST(MetricsMatch, ClassificationSplitsCreditAndSkipsAfterRemoval) {
    const Strings classes = {"New York", "York", "New", "Other"};
    EXPECT_DOUBLE_EQ(classification_score("Other", "Other", classes), 1.0);
    EXPECT_DOUBLE_EQ(classification_score("New York", "New York", classes), 0.5);
    EXPECT_DOUBLE_EQ(classification_score("York", "New York", classes), 0.0);
    EXPECT_DOUBLE_EQ(classification_score("Other or York", "Other", classes), 0.5);
    EXPECT_DOUBLE_EQ(classification_score("", "Other", classes), 0.0);
    EXPECT_DOUBLE_EQ(classification_score("Other", "Other", {}), 0.0);
}

TEST(MetricsMatch, CountAndRetrieval) {
    EXPECT_DOUBLE_EQ(count_score("There are 46 paragraphs", "46"), 1.0);
    EXPECT_DOUBLE_EQ(count_score("46 or 47", "46"), 0.5);
    EXPECT_DOUBLE_EQ(count_score("forty-six", "46"), 0.0);
    EXPECT_DOUBLE_EQ(count_score("\u0664\u0666 46", "46"), 0.5);  // Arabic-Indic digits are a number too

    EXPECT_DOUBLE_EQ(retrieval_score("Paragraph 19", "Paragraph 19"), 1.0);
    EXPECT_DOUBLE_EQ(retrieval_score("Paragraph 1", "Paragraph 19"), 0.0);
    EXPECT_DOUBLE_EQ(retrieval_score("Paragraph 19 of 30", "Paragraph 19"), 0.5);
    EXPECT_DOUBLE_EQ(retrieval_score("19", "no paragraph here"), 0.0);
}

TEST(MetricsMatch, StringMatchAllAndAny) {
    EXPECT_DOUBLE_EQ(string_match_all("values 123 and 456", {"123", "456", "789", "000"}), 0.5);
    EXPECT_DOUBLE_EQ(string_match_all("ÄPFEL", {"äpfel"}), 1.0);
    EXPECT_DOUBLE_EQ(string_match_all("x", {}), 0.0);
    EXPECT_DOUBLE_EQ(string_match_any("It was PARIS", {"London", "paris"}), 1.0);
    EXPECT_DOUBLE_EQ(string_match_any("Rome", {"London", "paris"}), 0.0);
    EXPECT_DOUBLE_EQ(string_match_any("Rome", {}), 0.0);
}

TEST(MetricsScore, MaxOverReferencesAndFirstLine) {
    EXPECT_DOUBLE_EQ(score_prediction(sample_for("qa_f1", {"London", "Paris"}), "Paris"), 1.0);
    EXPECT_DOUBLE_EQ(score_prediction(sample_for("qa_f1", {}), "Paris"), 0.0);

    // Only the first line counts for few-shot tasks.
    EXPECT_DOUBLE_EQ(score_prediction(sample_for("qa_f1", {"Paris"}, true), "\nRome\nParis"), 0.0);
    EXPECT_DOUBLE_EQ(score_prediction(sample_for("qa_f1", {"Paris"}, false), "\nRome\nParis"), 2.0 / 3.0);

    Sample trec = sample_for("classification", {"City"}, true);
    trec.all_classes = {"City", "Country"};
    EXPECT_DOUBLE_EQ(score_prediction(trec, "City\nCountry"), 1.0);
}

TEST(MetricsScore, EveryMetricNameIsScored) {
    for (const std::string& metric : metric_names()) {
        // "7" is a whole answer for every metric: a count, a class, a line of code.
        const std::string reference = metric == "retrieval" ? "Paragraph 7" : "7";
        Sample sample = sample_for(metric, {reference});
        sample.all_classes = {"7"};
        const double score = score_prediction(sample, reference);
        EXPECT_GT(score, 0.99) << metric;
        EXPECT_LE(score, 1.0) << metric;
    }
}

TEST(MetricsScore, EmptyInputsScoreZero) {
    for (const std::string& metric : metric_names()) {
        EXPECT_EQ(score_prediction(sample_for(metric, {"answer"}), ""), 0.0) << metric;
        EXPECT_EQ(score_prediction(sample_for(metric, {}), "answer"), 0.0) << metric;
    }
}

TEST(MetricsScore, InvalidUtf8PredictionIsScored) {
    EXPECT_DOUBLE_EQ(score_prediction(sample_for("qa_f1", {"caf\uFFFD"}), "caf\xC3"), 1.0);
    EXPECT_DOUBLE_EQ(score_prediction(sample_for("rouge_l", {"x"}), "\xff\xfe"), 0.0);
}

TEST(MetricsScore, UnknownMetricThrows) {
    try {
        score_prediction(sample_for("bleu", {"x"}), "x");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("'bleu'"), std::string::npos) << message;
        EXPECT_NE(message.find("qa_f1"), std::string::npos) << message;
    }
}

}  // namespace
}  // namespace compactor::eval
