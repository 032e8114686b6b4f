#include "cli/table.hpp"

#include <gtest/gtest.h>

#include "cli/http_client.hpp"

namespace vramq::cli {
namespace {

TEST(Table, ColumnsArePaddedToTheWidestCellAndLinesNotPadded) {
  Table t({"ID", "STATE"});
  t.add({"1", "running"});
  t.add({"100", "-"});
  EXPECT_EQ(t.render(), "ID   STATE\n1    running\n100  -\n");
}

TEST(Table, VramBarSplitsJobsForeignAndFree) {
  EXPECT_EQ(vram_bar(100, 50, 20, 10), "[#####==...]");
  EXPECT_EQ(vram_bar(100, 90, 50, 10), "[#########=]");  // never wider than the bar
  EXPECT_EQ(vram_bar(0, 0, 0, 4), "????");
}

TEST(ServerUrl, HostPortAndBasePath) {
  auto u = parse_server_url("http://gpu-box:9000/vramq/");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->host, "gpu-box");
  EXPECT_EQ(u->port, "9000");
  EXPECT_EQ(u->base_path, "/vramq");
  auto d = parse_server_url("http://127.0.0.1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, "80");
  for (const char* bad : {"127.0.0.1:8000", "https://x", "ftp://x", ""})
    EXPECT_FALSE(parse_server_url(bad)) << bad;
}

}  // namespace
}  // namespace vramq::cli
