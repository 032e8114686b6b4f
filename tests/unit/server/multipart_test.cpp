#include "server/multipart.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace vramq::server {
namespace {

using Kind = MultipartReader::Event::Kind;

// A part as the tests write and read it.
struct Part {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::string data;
  bool operator==(const Part&) const = default;
};

struct Read {
  std::vector<Part> parts;
  bool ended = false;  // end_of_body seen
  std::string error;
};

// Feeds `body` in pieces whose sizes come from `sizes` (cycled), collecting parts.
Read read_in_pieces(std::string_view body, std::string_view boundary,
                    const std::vector<std::size_t>& sizes, MultipartReader::Limits limits = {}) {
  MultipartReader reader(boundary, limits);
  Read out;
  std::vector<MultipartReader::Event> events;
  std::size_t at = 0;
  for (std::size_t i = 0; at < body.size(); ++i) {
    std::size_t n = std::min(sizes[i % sizes.size()], body.size() - at);
    auto r = reader.feed(body.substr(at, n), events);
    at += n;
    if (!r) {
      out.error = r.error().message;
      return out;
    }
    for (const auto& e : events) {
      switch (e.kind) {
        case Kind::head:
          out.parts.push_back({e.head.name, e.head.filename, e.head.content_type, ""});
          break;
        case Kind::data:
          EXPECT_FALSE(out.parts.empty());
          out.parts.back().data.append(e.data);
          break;
        case Kind::end_of_part:
          break;
        case Kind::end_of_body:
          out.ended = true;
          break;
      }
    }
  }
  EXPECT_EQ(out.ended, reader.done());
  return out;
}

Read read_whole(std::string_view body, std::string_view boundary,
                MultipartReader::Limits limits = {}) {
  return read_in_pieces(body, boundary, {body.size() + 1}, limits);
}

// Data that looks like the boundary's start, CRLFs and every byte value.
std::string tricky_bytes() {
  std::string s = "\r\n--b\r\n--boundar\r\n\r\n-";
  for (int i = 0; i < 256; ++i)
    s += static_cast<char>(i);
  s += "\r\n--boundarx\r\n";
  return s;
}

std::string body_of(const std::vector<Part>& parts, std::string_view boundary) {
  std::string b;
  for (const Part& p : parts) {
    b += "--" + std::string(boundary) + "\r\n";
    b += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (p.filename) b += "; filename=\"" + *p.filename + "\"";
    b += "\r\n";
    if (!p.content_type.empty()) b += "Content-Type: " + p.content_type + "\r\n";
    b += "\r\n" + p.data + "\r\n";
  }
  b += "--" + std::string(boundary) + "--\r\n";
  return b;
}

const std::vector<Part> kParts{
    {"job", std::nullopt, "application/json", R"({"task":"mesh","params":{"steps":3}})"},
    {"image", "cat.png", "image/png", tricky_bytes()},
    {"empty", "empty.bin", "", ""},
};

TEST(Multipart, ReadsPartsWithTheirHeadsAndData) {
  Read r = read_whole(body_of(kParts, "boundary"), "boundary");
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.parts, kParts);
}

// Whatever the pieces' sizes, the same parts come out: a delimiter, a header block and CRLFs
// split across pieces are all found.
TEST(Multipart, AnySplitOfTheBodyReadsTheSame) {
  std::string body = body_of(kParts, "boundary");
  for (std::size_t size = 1; size <= 40; ++size) {
    Read r = read_in_pieces(body, "boundary", {size});
    ASSERT_EQ(r.error, "") << size;
    EXPECT_TRUE(r.ended) << size;
    EXPECT_EQ(r.parts, kParts) << size;
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 16; ++i)
      sizes.push_back(std::uniform_int_distribution<std::size_t>(1, 64)(rng));
    Read r = read_in_pieces(body, "boundary", sizes);
    ASSERT_EQ(r.error, "") << round;
    EXPECT_EQ(r.parts, kParts) << round;
  }
}

// RFC 2046: a preamble before the first delimiter and an epilogue after the last are ignored;
// the first delimiter may open the body directly; padding may follow a delimiter.
TEST(Multipart, PreambleEpilogueAndPaddingAreIgnored) {
  std::string body =
      "This is a preamble.\r\n--xyz \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
      "--xyz\r\ncontent-disposition: FORM-DATA; NAME=\"b\"; filename=\"C:\\\\dir\\\\x.txt\"\r\n"
      "\r\n2\r\n--xyz--\r\nepilogue --xyz\r\n garbage";
  Read r = read_whole(body, "xyz");
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.ended);
  ASSERT_EQ(r.parts.size(), 2U);
  EXPECT_EQ(r.parts[0], (Part{"a", std::nullopt, "", "1"}));
  EXPECT_EQ(r.parts[1], (Part{"b", "C:\\dir\\x.txt", "", "2"}));
}

TEST(Multipart, ABodyWithoutItsCloseDelimiterIsNotDone) {
  std::string body = body_of(kParts, "boundary");
  body.resize(body.size() - 5);
  Read r = read_whole(body, "boundary");
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.ended);
}

TEST(Multipart, MalformedBodiesAreRefusedWithTheReason) {
  auto error_of = [](std::string_view body, MultipartReader::Limits limits = {}) {
    return read_whole(body, "b", limits).error;
  };
  EXPECT_NE(
      error_of("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--").find("no Content-Disposition"),
      std::string::npos);
  EXPECT_NE(error_of("--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--").find("no name"),
            std::string::npos);
  EXPECT_NE(error_of("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--")
                .find("not form-data"),
            std::string::npos);
  EXPECT_NE(error_of("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--")
                .find("not closed"),
            std::string::npos);
  EXPECT_NE(error_of("--b\r\nContent-Disposition: form-data; name=a\r\n folded\r\n\r\nx\r\n--b--")
                .find("folded"),
            std::string::npos);
  EXPECT_NE(error_of("--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--bx\r\n--b--")
                .find("not followed by CRLF"),
            std::string::npos);
  std::string many;
  for (int i = 0; i < 3; ++i)
    many += "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n";
  EXPECT_NE(error_of(many + "--b--", {.head_bytes = 1024, .parts = 2}).find("more than 2 parts"),
            std::string::npos);
  EXPECT_EQ(error_of(many + "--b--", {.head_bytes = 1024, .parts = 3}), "");
}

// A header block that never ends is refused once it passes the limit, not buffered whole.
TEST(Multipart, AnEndlessHeaderBlockIsRefusedAtItsLimit) {
  MultipartReader reader("b", {.head_bytes = 100, .parts = 8});
  std::vector<MultipartReader::Event> events;
  ASSERT_TRUE(reader.feed("--b\r\nContent-Disposition: form-data; name=a\r\nX: ", events));
  util::Result<void> r;
  int pieces = 0;
  for (; pieces < 100 && r; ++pieces)
    r = reader.feed(std::string(10, 'y'), events);
  ASSERT_FALSE(r);
  EXPECT_LT(pieces, 10);
  EXPECT_NE(r.error().message.find("over 100 bytes"), std::string::npos);
  EXPECT_FALSE(reader.feed("\r\n\r\n", events));  // final
}

// A file part's data is handed on as it comes: the reader keeps less than a delimiter back.
TEST(Multipart, DataIsHandedOnWithoutBeingHeld) {
  MultipartReader reader("boundary", {});
  std::vector<MultipartReader::Event> events;
  ASSERT_TRUE(
      reader.feed("--boundary\r\nContent-Disposition: form-data; name=f; "
                  "filename=f\r\n\r\n",
                  events));
  std::size_t handed = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(reader.feed(std::string(1000, 'z'), events));
    for (const auto& e : events) {
      if (e.kind == Kind::data) handed += e.data.size();
    }
    EXPECT_GE(handed + std::string("\r\n--boundary").size(), (i + 1) * 1000U);
  }
}

TEST(Multipart, BoundaryFromTheContentType) {
  EXPECT_EQ(*form_data_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(*form_data_boundary("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
  EXPECT_EQ(*form_data_boundary("multipart/form-data; charset=utf-8; boundary=----x"), "----x");
  EXPECT_FALSE(form_data_boundary("application/json"));
  EXPECT_FALSE(form_data_boundary("multipart/mixed; boundary=x"));
  EXPECT_FALSE(form_data_boundary("multipart/form-data"));
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary="));
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=\"ab \""));
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=a\"b"));
  EXPECT_NE(form_data_boundary("text/plain").error().message.find("not multipart/form-data"),
            std::string::npos);
}

}  // namespace
}  // namespace vramq::server
