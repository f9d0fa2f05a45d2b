// compactor-test-libs: compactor_engine
// json_text, the serializer behind the JSON files and reports the CLI writes.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/json_text.h"

namespace compactor {
namespace {

using nlohmann::json;

TEST(JsonText, ValidTextUnchanged) {
    const json value = {{"answer", "caf\xC3\xA9 \xE2\x82\xAC 1"}, {"score", 0.5}};
    EXPECT_EQ(json_text(value), value.dump());
    EXPECT_EQ(json_text(value, 2), value.dump(2));
}

TEST(JsonText, CutCharacterBecomesReplacement) {
    // "\xE2\x82" is the euro sign's first two bytes, as a token limit can
    // leave them at the end of an answer.
    const json value = {{"answer", "price: 5 \xE2\x82"}};
    const std::string text = json_text(value);
    EXPECT_EQ(text, "{\"answer\":\"price: 5 \xEF\xBF\xBD\"}");
    EXPECT_EQ(json::parse(text)["answer"], "price: 5 \xEF\xBF\xBD");
}

TEST(JsonText, Latin1ByteBecomesReplacement) {
    const json value = json::array({"/data/caf\xE9/doc.txt"});
    EXPECT_EQ(json_text(value), "[\"/data/caf\xEF\xBF\xBD/doc.txt\"]");
}

TEST(JsonText, IndentMatchesDump) {
    const json value = {{"lengths", {1024, 4096}}, {"model", "m.gguf"}};
    EXPECT_EQ(json_text(value, 1), value.dump(1));
    EXPECT_EQ(json_text(value, -1), value.dump());
}

TEST(JsonText, PlainDumpThrowsOnInvalidUtf8) {
    // Without the replace handler, nlohmann::json throws type_error 316 on
    // the same value, which is why json_text exists.
    const json value = {{"answer", "caf\xE9"}};
    EXPECT_THROW((void)value.dump(), json::type_error);
    EXPECT_NO_THROW((void)json_text(value));
}

}  // namespace
}  // namespace compactor
