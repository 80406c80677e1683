// The flat JSON reader against what JsonLine writes, and against malformed lines.
#include <gtest/gtest.h>

#include "util/json.h"
#include "util/json_reader.h"

namespace rnnb {
namespace {

TEST(JsonReader, ReadsBackWhatJsonLineWrites) {
  const std::string line = JsonLine()
                               .add("event", "epoch")
                               .add("epoch", 12)
                               .add("val_loss", 0.3125)
                               .add("nan", std::nan(""))
                               .add("best", true)
                               .add("note", "say \"hi\"\\\n\x01")
                               .str();
  const std::optional<JsonFields> f = parse_json_object(line);
  ASSERT_TRUE(f) << line;
  EXPECT_EQ(f->at("event").text, "epoch");
  EXPECT_EQ(f->at("epoch").kind, JsonScalar::Kind::Number);
  EXPECT_EQ(f->at("epoch").number, 12);
  EXPECT_EQ(f->at("val_loss").number, 0.3125);
  EXPECT_EQ(f->at("nan").kind, JsonScalar::Kind::Null);
  EXPECT_TRUE(f->at("best").boolean);
  EXPECT_EQ(f->at("note").text, "say \"hi\"\\\n\x01");
  EXPECT_TRUE(parse_json_object(" {} "));
}

TEST(JsonReader, RefusesWhatIsNotOneFlatObject) {
  for (const char* bad : {"", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":[1]}", "{\"a\":{}}",
                          "{\"a\":\"open}", "{a:1}", "{\"epoch\":1e}", "{\"a\":tru}"})
    EXPECT_FALSE(parse_json_object(bad)) << bad;
}

}  // namespace
}  // namespace rnnb
