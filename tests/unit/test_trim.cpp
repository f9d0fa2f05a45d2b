// compactor-test-libs: compactor_eval
// trim_whitespace, shared by the chat template, the CLI and the evaluation,
// and the comma lists of eval's options, which it trims.
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "eval/eval_list.h"
#include "tokenizer/trim.h"

namespace compactor {
namespace {

TEST(TrimWhitespace, StripsBothEnds) {
    EXPECT_EQ(trim_whitespace("  answer\n"), "answer");
    EXPECT_EQ(trim_whitespace("\t\r\n\f\vtwo words \v\f\n\r\t"), "two words");
    EXPECT_EQ(trim_whitespace("kept"), "kept");
}

TEST(TrimWhitespace, KeepsInnerWhitespace) {
    EXPECT_EQ(trim_whitespace(" line one\n\nline two "), "line one\n\nline two");
}

TEST(TrimWhitespace, BlankTextBecomesEmpty) {
    EXPECT_EQ(trim_whitespace(""), "");
    EXPECT_EQ(trim_whitespace(" \t\n\r\f\v"), "");
}

TEST(TrimWhitespace, NonAsciiSpaceIsContent) {
    // U+00A0 (no-break space) is not in Jinja's trim set, so it stays.
    EXPECT_EQ(trim_whitespace("\xC2\xA0x "), "\xC2\xA0x");
}

TEST(TrimWhitespace, ViewsTheInput) {
    const std::string text = "  middle  ";
    const std::string_view trimmed = trim_whitespace(text);
    EXPECT_EQ(trimmed.data(), text.data() + 2);
    EXPECT_EQ(trimmed.size(), 6u);
}

TEST(SplitCommaList, TrimsEveryItem) {
    EXPECT_EQ(eval::split_comma_list("none, compactor,\tknorm\n"),
              (std::vector<std::string>{"none", "compactor", "knorm"}));
}

TEST(SplitCommaList, KeepsEmptyItemsForTheCallerToReject) {
    EXPECT_EQ(eval::split_comma_list("a,, b,"), (std::vector<std::string>{"a", "", "b", ""}));
    EXPECT_EQ(eval::split_comma_list(" "), (std::vector<std::string>{""}));
}

}  // namespace
}  // namespace compactor
