// The event ring: ids, resume after an id, filters, and resets when a reader fell behind.
#include "core/event_ring.hpp"

#include <gtest/gtest.h>

#include <random>

namespace vramq::core {
namespace {

std::vector<std::uint64_t> ids(const EventRing::Read& r) {
  std::vector<std::uint64_t> out;
  for (const Event* e : r.events)
    out.push_back(e->id);
  return out;
}

TEST(EventRing, ResumesWithExactlyTheMissedEvents) {
  EventRing ring(8);
  EXPECT_EQ(ring.last_id(), 0u);
  EXPECT_TRUE(ring.read(0, 100).events.empty());
  for (int i = 1; i <= 5; ++i)
    EXPECT_EQ(ring.publish(EventType::job, i, "j" + std::to_string(i)), static_cast<unsigned>(i));
  EventRing::Read r = ring.read(2, 100);
  EXPECT_FALSE(r.reset);
  EXPECT_EQ(ids(r), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(r.events[0]->data(), "j3");
  EXPECT_EQ(r.last_seen, 5u);
  EXPECT_TRUE(ring.read(5, 100).events.empty());
  // At most `max`, and last_seen says where to go on.
  r = ring.read(0, 2);
  EXPECT_EQ(ids(r), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ids(ring.read(r.last_seen, 100)), (std::vector<std::uint64_t>{3, 4, 5}));
}

TEST(EventRing, AReaderThatFellBehindTheRingIsToldSo) {
  EventRing ring(3);
  for (int i = 1; i <= 10; ++i)
    ring.publish(EventType::gpu, 0, "");
  EXPECT_EQ(ring.size(), 3u) << "bounded";
  EventRing::Read r = ring.read(4, 100);
  EXPECT_TRUE(r.reset) << "5, 6 and 7 are gone";
  EXPECT_EQ(ids(r), (std::vector<std::uint64_t>{8, 9, 10}));
  EXPECT_FALSE(ring.read(7, 100).reset) << "8 is the oldest kept: nothing missed";
  r = ring.read(99, 100);
  EXPECT_TRUE(r.reset) << "an id this ring never gave (a server before a restart)";
  EXPECT_EQ(r.last_seen, 10u);
  EXPECT_TRUE(r.events.empty());
}

TEST(EventRing, FiltersKeepTheirPlace) {
  EventRing ring(16);
  ring.publish(EventType::job, 1, "");
  ring.publish(EventType::gpu, 0, "");
  ring.publish(EventType::job, 2, "");
  ring.publish(EventType::job, 1, "");
  auto job1 = [](const Event& e) { return e.type == EventType::job && e.job == 1; };
  EventRing::Read r = ring.read(0, 100, job1);
  EXPECT_EQ(ids(r), (std::vector<std::uint64_t>{1, 4}));
  EXPECT_EQ(r.last_seen, 4u) << "the events it skipped are seen too";
  r = ring.read(0, 1, job1);
  EXPECT_EQ(ids(r), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(to_string(EventType::worker), "worker");
}

TEST(EventRing, KeepsWithinItsBytesButAlwaysTheNewestEvent) {
  // Each event counts 2 * 4 + 64 = 72 bytes.
  EventRing ring(100, 150);
  ring.publish(EventType::job, 1, "aaaa");
  ring.publish(EventType::job, 2, "bbbb");
  EXPECT_EQ(ring.size(), 2u);
  ring.publish(EventType::job, 3, "cccc");  // 216 bytes: the oldest goes
  EXPECT_EQ(ring.size(), 2u);
  EXPECT_EQ(ring.bytes(), 144u);
  EventRing::Read r = ring.read(0, 100);
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(ids(r), (std::vector<std::uint64_t>{2, 3}));
  ring.publish(EventType::job, 4, std::string(500, 'x'));  // alone above the bound: kept alone
  EXPECT_EQ(ring.size(), 1u);
  EXPECT_EQ(ids(ring.read(3, 100)), (std::vector<std::uint64_t>{4}));
}

TEST(EventRing, IdsFromAnEarlierServerAreNeverTakenForNewOnes) {
  EventRing ring(8, SIZE_MAX, 1000);
  EXPECT_EQ(ring.last_id(), 999u);
  EXPECT_FALSE(ring.read(999, 10).reset) << "a reader that saw the start";
  EXPECT_EQ(ring.publish(EventType::queue, 0, "q"), 1000u);
  EXPECT_TRUE(ring.read(5, 10).reset) << "an id an earlier server gave";
  EXPECT_TRUE(ring.read(2000, 10).reset) << "an id from the future";
  EXPECT_EQ(ids(ring.read(999, 10)), (std::vector<std::uint64_t>{1000}));
  EXPECT_EQ(to_string(EventType::queue), "queue");
}

TEST(EventRing, LazyPayloadsAreMadeOnceAndOnlyWhenRead) {
  EventRing ring(2, 1000);
  int made = 0;
  ring.publish_lazy(
      EventType::job, 1,
      [&] {
        ++made;
        return std::string("one");
      },
      40);
  ring.publish_lazy(
      EventType::job, 2,
      [&] {
        ++made;
        return std::string("two");
      },
      40);
  EXPECT_EQ(ring.bytes(), 2u * (2 * 40 + 64));
  ring.publish_lazy(
      EventType::job, 3,
      [&] {
        ++made;
        return std::string("three");
      },
      40);
  EXPECT_EQ(made, 0) << "nobody read them";
  EventRing::Read r = ring.read(ring.last_id() - 1, 10);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0]->data(), "three");
  EXPECT_EQ(r.events[0]->data(), "three");
  EXPECT_EQ(made, 1);
  // Made and framed, it counts what it really holds.
  r.events[0]->framed = std::string(300, 'f');
  std::size_t before = ring.bytes();
  ring.account(*r.events[0]);
  EXPECT_EQ(ring.bytes(), before - (2 * 40 + 64) + (5 + 300 + 64));
  ring.publish(EventType::job, 4, std::string(400, 'x'));  // over 1000: the older ones go
  EXPECT_EQ(ring.size(), 1u);
}

// Random publishing and reading against a plain list of everything ever published.
TEST(EventRingProperty, ReadsMatchTheWholeHistory) {
  std::mt19937_64 rng(13);
  for (int world = 0; world < 500; ++world) {
    std::size_t cap = std::uniform_int_distribution<std::size_t>(1, 20)(rng);
    EventRing ring(cap);
    std::vector<std::uint64_t> all;
    for (int step = 0; step < 100; ++step) {
      if (rng() % 3 != 0) {
        all.push_back(ring.publish(EventType::job, static_cast<JobId>(rng() % 4), ""));
        continue;
      }
      std::uint64_t after = std::uniform_int_distribution<std::uint64_t>(0, all.size() + 2)(rng);
      std::size_t max = std::uniform_int_distribution<std::size_t>(1, 30)(rng);
      EventRing::Read r = ring.read(after, max);
      if (after > all.size()) {
        ASSERT_TRUE(r.reset);
        continue;
      }
      std::uint64_t oldest = all.size() > cap ? all.size() - cap + 1 : 1;
      ASSERT_EQ(r.reset, after + 1 < oldest && !all.empty());
      std::vector<std::uint64_t> want;
      for (std::uint64_t id = std::max(after + 1, oldest); id <= all.size() && want.size() < max;
           ++id) {
        want.push_back(id);
      }
      ASSERT_EQ(ids(r), want);
    }
  }
}

}  // namespace
}  // namespace vramq::core
