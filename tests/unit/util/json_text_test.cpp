#include "util/json_text.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace vramq::util {
namespace {

TEST(JsonText, NumbersPrintAsAPersonWritesThem) {
  EXPECT_EQ(number_text(2.0), "2");
  EXPECT_EQ(number_text(0.0), "0");
  EXPECT_EQ(number_text(-3.0), "-3");
  EXPECT_EQ(number_text(255.0), "255");
  EXPECT_EQ(number_text(1000.0), "1000");
  EXPECT_EQ(number_text(0.5), "0.5");
  EXPECT_EQ(number_text(0.000061), "0.000061");
  EXPECT_EQ(number_text(15.2), "15.2");
  EXPECT_EQ(number_text(0.1), "0.1");
  EXPECT_EQ(number_text(1e300), "1e+300");  // extreme: exponent form, still valid JSON
  EXPECT_EQ(number_text(1.5e-9), "1.5e-09");
}

TEST(JsonText, EverythingElseIsPlainJsonThatReadsBack) {
  boost::json::value v = boost::json::parse(
      R"({"seconds":2.0,"min":0.0,"max":255.0,"base_mb":1000.0,"per_unit_mb":0.000061,)"
      R"("n":7,"s":"a\"b\n","list":[1.5,null,true,{"x":-0.25}],"big":18446744073709551615})");
  std::string text = to_json_text(v);
  EXPECT_EQ(text, R"({"seconds":2,"min":0,"max":255,"base_mb":1000,"per_unit_mb":0.000061,"n":7,)"
                  R"("s":"a\"b\n","list":[1.5,null,true,{"x":-0.25}],"big":18446744073709551615})");
  boost::json::value back = boost::json::parse(text);
  EXPECT_EQ(back.at("per_unit_mb").to_number<double>(), 0.000061);
  EXPECT_EQ(back.at("list").at(3).at("x").as_double(), -0.25);
}

}  // namespace
}  // namespace vramq::util
