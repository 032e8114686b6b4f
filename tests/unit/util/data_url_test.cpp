#include "util/data_url.hpp"

#include <gtest/gtest.h>

namespace vramq::util {
namespace {

TEST(DataUrl, Base64StrictlyAndPercentEncoded) {
  EXPECT_EQ(decode_data_url("data:image/png;base64,QQ=="), "A");
  EXPECT_EQ(decode_data_url("data:;base64,QUI="), "AB");
  EXPECT_EQ(decode_data_url("DATA:image/png;BASE64,QUJD"), "ABC");
  EXPECT_EQ(decode_data_url("data:;base64,QQ"), "A");        // unpadded
  EXPECT_EQ(decode_data_url("data:;base64,QQ%3D%3D"), "A");  // RFC 2397 escapes
  EXPECT_EQ(decode_data_url("data:;base64,%2B%2F%2B%2F"), "\xfb\xff\xbf");
  EXPECT_EQ(decode_data_url("data:;base64,"), "");
  for (const char* bad : {"data:;base64,QQ==    ", "data:;base64, QQ==", "data:;base64,Q=Q=",
                          "data:;base64,QQ===", "data:;base64,Q", "data:;base64,QUJ=",
                          "data:;base64,QQ!=", "data:;base64,%ZZ", "data:;base64,QQ%3"}) {
    EXPECT_FALSE(decode_data_url(bad)) << bad;
  }
}

TEST(DataUrl, PlainDataIsPercentDecoded) {
  EXPECT_EQ(decode_data_url("data:text/plain,hello%20world%0A"), "hello world\n");
  EXPECT_EQ(decode_data_url("data:,"), "");
  EXPECT_FALSE(decode_data_url("data:text/plain,50%"));
  EXPECT_FALSE(decode_data_url("data:text/plain"));  // no comma
  EXPECT_FALSE(decode_data_url("http://example.com/x.png"));
  EXPECT_FALSE(decode_data_url("dat"));
}

}  // namespace
}  // namespace vramq::util
