#include "core/media_type.hpp"

#include <gtest/gtest.h>

#include <string>

namespace vramq::core {
namespace {

using namespace std::string_literals;

TEST(MediaType, KnownSignatures) {
  EXPECT_EQ(sniff_media_type("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"s), "image/png");
  EXPECT_EQ(sniff_media_type("\xff\xd8\xff\xe0\0\x10JFIF"s), "image/jpeg");
  EXPECT_EQ(sniff_media_type("GIF89a\x01\0"s), "image/gif");
  EXPECT_EQ(sniff_media_type("RIFF\x10\0\0\0WEBPVP8 "s), "image/webp");
  EXPECT_EQ(sniff_media_type("RIFF\x10\0\0\0WAVEfmt "s), "audio/wave");
  EXPECT_EQ(sniff_media_type("\0\0\0\x20"
                             "ftypisom\0\0\x02\0"s),
            "video/mp4");
  EXPECT_EQ(sniff_media_type("\0\0\0\x18"
                             "ftypheic"s),
            "image/heic");
  EXPECT_EQ(sniff_media_type("%PDF-1.7\n"), "application/pdf");
  EXPECT_EQ(sniff_media_type("PK\x03\x04\x14\0"s), "application/zip");
  EXPECT_EQ(sniff_media_type("glTF\x02\0\0\0"s), "model/gltf-binary");
  EXPECT_EQ(sniff_media_type("\x93NUMPY\x01\0"s), "application/x-npy");
}

// A name or a claim does not matter: text is text, other bytes are octets.
TEST(MediaType, TextAndBinary) {
  EXPECT_EQ(sniff_media_type("v 0 0 0\nv 1 0 0\nf 1 2 3\n"), "text/plain");
  EXPECT_EQ(sniff_media_type(""), "text/plain");
  EXPECT_EQ(sniff_media_type("caf\xc3\xa9\t\r\n"), "text/plain");
  EXPECT_EQ(sniff_media_type("\xff\xfeh\0i\0"s), "text/plain");  // UTF-16 with its BOM
  EXPECT_EQ(sniff_media_type("abc\0def"s), "application/octet-stream");
  EXPECT_EQ(sniff_media_type("\x7f"
                             "ELF\x02\x01"s),
            "application/octet-stream");
  // Only the first 512 bytes count.
  EXPECT_EQ(sniff_media_type(std::string(512, 'a') + "\0"s), "text/plain");
  // Too short for a signature: judged as text or binary.
  EXPECT_EQ(sniff_media_type("\x89PN"), "text/plain");
}

TEST(MediaType, AllowedByListAndWildcards) {
  std::vector<std::string> images{"image/png", "image/jpeg"};
  EXPECT_TRUE(media_type_allowed("image/png", images));
  EXPECT_FALSE(media_type_allowed("image/gif", images));
  EXPECT_TRUE(media_type_allowed("image/gif", {"image/*"}));
  EXPECT_FALSE(media_type_allowed("imagex/gif", {"image/*"}));
  EXPECT_FALSE(media_type_allowed("text/plain", {"image/*"}));
  EXPECT_TRUE(media_type_allowed("text/plain", {"*/*"}));
  EXPECT_TRUE(media_type_allowed("application/octet-stream", {}));
}

TEST(MediaType, Patterns) {
  for (const char* ok : {"image/png", "image/*", "*/*", "application/x-npy", "model/gltf-binary",
                         "application/vnd.ms-excel"}) {
    EXPECT_TRUE(valid_media_pattern(ok)) << ok;
  }
  for (const char* bad :
       {"", "image", "image/", "/png", "*/png", "Image/PNG", "image/png; q=1", "image/p ng"}) {
    EXPECT_FALSE(valid_media_pattern(bad)) << bad;
  }
}

}  // namespace
}  // namespace vramq::core
