#include "server/byte_range.hpp"

#include <gtest/gtest.h>

namespace vramq::server {
namespace {

TEST(ByteRange, OneRangeInItsThreeForms) {
  ByteRange r = parse_byte_range("bytes=10-19", 100);
  EXPECT_EQ(r.kind, ByteRange::partial);
  EXPECT_EQ(r.first, 10);
  EXPECT_EQ(r.last, 19);
  r = parse_byte_range("bytes=90-", 100);
  EXPECT_EQ(r.kind, ByteRange::partial);
  EXPECT_EQ(r.last, 99);
  r = parse_byte_range("bytes=-5", 100);
  EXPECT_EQ(r.first, 95);
  EXPECT_EQ(r.last, 99);
  r = parse_byte_range("bytes=-500", 100);  // more than the file: all of it
  EXPECT_EQ(r.first, 0);
  r = parse_byte_range("bytes=50-5000", 100);  // clipped to the end
  EXPECT_EQ(r.last, 99);
}

TEST(ByteRange, PastTheEndIsUnsatisfiable) {
  EXPECT_EQ(parse_byte_range("bytes=100-", 100).kind, ByteRange::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=5000-6000", 100).kind, ByteRange::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=-0", 100).kind, ByteRange::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=0-", 0).kind, ByteRange::unsatisfiable);
}

TEST(ByteRange, AnythingElseMeansTheWholeFile) {
  for (const char* h : {"bytes=1-2,5-6", "items=0-5", "bytes=5-2", "bytes=a-b", "bytes=-",
                        "bytes=1", "", "bytes=-1-2"}) {
    EXPECT_EQ(parse_byte_range(h, 100).kind, ByteRange::whole) << h;
  }
  EXPECT_EQ(parse_byte_range(std::nullopt, 100).kind, ByteRange::whole);
}

}  // namespace
}  // namespace vramq::server
