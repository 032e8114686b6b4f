// tqdm's progress bars as they appear in a job's stderr: the formats of tqdm.format_meter (its
// README and docstring), with and without a total, a description, unit_scale, slow rates,
// postfixes, nested bars' cursor moves, and lines that are not bars.
#include "core/progress.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TEST(Tqdm, ABarWithATotal) {
  auto p = parse_tqdm(" 45%|####5     | 45/100 [00:02<00:03, 15.20it/s]");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p->fraction, 0.45);
  EXPECT_EQ(*p->current, 45);
  EXPECT_EQ(*p->total, 100);
  EXPECT_EQ(p->unit, "it");
  EXPECT_DOUBLE_EQ(*p->rate, 15.2);
  EXPECT_EQ(*p->eta_s, 3);
  EXPECT_EQ(p->message, "");
}

TEST(Tqdm, TheNewestOfManyRedrawsWithADescription) {
  std::string_view log =
      "loading weights\n"
      "Meshing:   0%|          | 0/200 [00:00<?, ?it/s]\r"
      "Meshing:  10%|#         | 20/200 [00:01<00:09, 19.87it/s]\r"
      "Meshing:  76%|███████▌  | 152/200 [00:07<00:02, 21.33it/s]\r";
  auto p = parse_tqdm(log);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "Meshing");
  EXPECT_DOUBLE_EQ(*p->fraction, 0.76);
  EXPECT_EQ(*p->eta_s, 2);
  EXPECT_DOUBLE_EQ(*p->rate, 21.33);
}

TEST(Tqdm, TheFirstDrawHasNoRateOrEta) {
  auto p = parse_tqdm("  0%|          | 0/10 [00:00<?, ?it/s]");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->fraction, 0);
  EXPECT_FALSE(p->rate);
  EXPECT_FALSE(p->eta_s);
  EXPECT_EQ(p->unit, "it");
}

TEST(Tqdm, SlowRatesAreSecondsPerUnit) {
  auto p = parse_tqdm(" 10%|#         | 1/10 [00:05<00:45,  5.00s/it]");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p->rate, 0.2);
  EXPECT_EQ(*p->eta_s, 45);
}

TEST(Tqdm, UnitScaleAndBytes) {
  auto p = parse_tqdm("model.bin:  45%|████▌     | 45.0M/100M [00:02<00:03, 15.2MB/s]");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "model.bin");
  EXPECT_DOUBLE_EQ(*p->current, 45e6);
  EXPECT_DOUBLE_EQ(*p->total, 100e6);
  EXPECT_DOUBLE_EQ(*p->rate, 15.2e6);
  EXPECT_EQ(p->unit, "B");
}

TEST(Tqdm, PostfixHoursAndNoTotal) {
  auto p = parse_tqdm("train: 50%|█████     | 500/1000 [1:02:03<1:02:03, 0.13it/s, loss=0.31]");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->eta_s, 3723);
  EXPECT_DOUBLE_EQ(*p->rate, 0.13);
  auto q = parse_tqdm("Steps: 1.20k [00:04, 299.87it/s]\n");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->message, "Steps");
  EXPECT_DOUBLE_EQ(*q->current, 1200);
  EXPECT_FALSE(q->fraction);
  EXPECT_FALSE(q->total);
  EXPECT_DOUBLE_EQ(*q->rate, 299.87);
  auto r = parse_tqdm("100it [00:01, 99.50it/s]");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->current, 100);
  EXPECT_EQ(r->unit, "it");
}

TEST(Tqdm, NestedBarsMoveTheCursor) {
  auto p = parse_tqdm("\x1b[A\r inner:  30%|###       | 3/10 [00:00<00:01,  9.90it/s]\x1b[A");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message, "inner");
  EXPECT_DOUBLE_EQ(*p->fraction, 0.3);
}

TEST(Tqdm, OtherLinesAfterTheBarAreSkipped) {
  auto p = parse_tqdm(" 20%|##        | 2/10 [00:01<00:04,  2.00it/s]\nsaving mesh to out.obj\n");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p->fraction, 0.2);
}

TEST(Tqdm, NothingThatIsNotABar) {
  for (std::string_view text : std::initializer_list<std::string_view>{
           "", "\r\n\r\n", "progress 45%\n", "loss: 0.3 [epoch 3]\n", "45%| broken bar",
           "Traceback (most recent call last):\n", "|||||", std::string_view("\0\xff\xfe", 3)}) {
    EXPECT_FALSE(parse_tqdm(text)) << text;
  }
}

TEST(Tqdm, MessagesAreBoundedAndValidText) {
  std::string desc(500, 'd');
  auto p = parse_tqdm(desc + ":  1%|          | 1/100 [00:00<00:10, 9.99it/s]");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message.size(), kProgressMessageBytes);
  auto q = parse_tqdm("bad\xff:  1%|          | 1/100 [00:00<00:10, 9.99it/s]");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->message, "bad?");
}

TEST(Tqdm, Durations) {
  EXPECT_EQ(parse_tqdm_duration("03"), 3);
  EXPECT_EQ(parse_tqdm_duration("01:02"), 62);
  EXPECT_EQ(parse_tqdm_duration("1:02:03"), 3723);
  EXPECT_FALSE(parse_tqdm_duration("?"));
  EXPECT_FALSE(parse_tqdm_duration(""));
  EXPECT_FALSE(parse_tqdm_duration("1::2"));
  EXPECT_FALSE(parse_tqdm_duration("1:2:3:4"));
  EXPECT_EQ(parse_tqdm_number("1.5k"), 1500);
  EXPECT_EQ(parse_tqdm_number("2G"), 2e9);
  EXPECT_FALSE(parse_tqdm_number("k"));
  EXPECT_FALSE(parse_tqdm_number("-1"));
}

}  // namespace
}  // namespace vramq::core
