// The last hour per plugin: minute points as differences of running totals, p99 from the
// buckets of that minute only, the minute in progress, and a ring that forgets after an hour.
// The minutes are given by the test: no clock, no waiting.
#include "metrics/minute_history.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;

namespace {
constexpr std::int64_t kT0 = 1'790'000'040;  // a whole minute, epoch seconds

// Totals after `requests` answers, `errors` of them 5xx, all in latency bucket `bucket`,
// added to `base`.
GroupTotals grow(GroupTotals base, std::uint64_t requests, std::uint64_t errors,
                 std::size_t bucket) {
  base.requests += requests;
  base.errors += errors;
  base.latency[bucket] += requests;
  return base;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(minute_history)

BOOST_AUTO_TEST_CASE(minutes_are_whole) {
  BOOST_TEST(MinuteHistory::minute_of(kT0) == kT0);
  BOOST_TEST(MinuteHistory::minute_of(kT0 + 59) == kT0);
  BOOST_TEST(MinuteHistory::minute_of(kT0 + 60) == kT0 + 60);
}

BOOST_AUTO_TEST_CASE(each_minute_holds_what_the_totals_grew_by_and_its_own_p99) {
  MinuteHistory history;
  GroupTotals hello;
  hello = grow(hello, 100, 0, 9);  // 100 slow ones, (250 ms, 500 ms]
  history.close_minute(kT0, {{"hello", hello}});
  hello = grow(hello, 200, 10, 0);  // then 200 fast ones, 10 of them 5xx
  history.close_minute(kT0 + 60, {{"hello", hello}});
  const GroupTotals now = grow(hello, 5, 5, 4);  // the minute in progress so far

  const auto points = history.series("hello", kT0 + 130, now);
  BOOST_TEST_REQUIRE(points.size() == 60u);
  for (std::size_t i = 1; i < points.size(); ++i)
    BOOST_TEST(points[i].minute - points[i - 1].minute == 60);
  BOOST_TEST(points.back().minute == kT0 + 120);

  const MinutePoint& slow = points[57];
  BOOST_TEST(slow.minute == kT0);
  BOOST_TEST(slow.requests == 100u);
  BOOST_TEST_REQUIRE(slow.p99_seconds.has_value());
  BOOST_TEST(*slow.p99_seconds > 0.25);

  const MinutePoint& fast = points[58];
  BOOST_TEST(fast.requests == 200u);
  BOOST_TEST(fast.errors == 10u);
  BOOST_TEST_REQUIRE(fast.p99_seconds.has_value());
  BOOST_TEST(*fast.p99_seconds <= 0.0005);  // the slow minute before does not leak into it

  const MinutePoint& current = points[59];
  BOOST_TEST(current.requests == 5u);
  BOOST_TEST(current.errors == 5u);
  BOOST_TEST_REQUIRE(current.p99_seconds.has_value());
  BOOST_TEST(*current.p99_seconds > 0.005);

  // Before the first close nothing was recorded: zero requests and no p99.
  BOOST_TEST(points[0].requests == 0u);
  BOOST_TEST(!points[0].p99_seconds.has_value());
}

BOOST_AUTO_TEST_CASE(a_missed_minute_reads_zero_and_the_next_one_holds_the_growth) {
  MinuteHistory history;
  GroupTotals t = grow({}, 10, 0, 0);
  history.close_minute(kT0, {{"hello", t}});
  t = grow(t, 7, 1, 1);
  history.close_minute(kT0 + 120, {{"hello", t}});  // kT0 + 60 never closed
  const auto points = history.series("hello", kT0 + 180, t);
  BOOST_TEST(points[56].requests == 10u);
  BOOST_TEST(points[57].minute == kT0 + 60);
  BOOST_TEST(points[57].requests == 0u);
  BOOST_TEST(points[58].requests == 7u);
  BOOST_TEST(points[59].requests == 0u);  // nothing since the last close
}

BOOST_AUTO_TEST_CASE(the_ring_keeps_one_hour) {
  MinuteHistory history;
  GroupTotals t;
  for (std::int64_t m = 0; m < 90; ++m) {  // one request in minute m, 90 minutes in a row
    t = grow(t, static_cast<std::uint64_t>(m + 1), 0, 0);
    history.close_minute(kT0 + m * 60, {{"hello", t}});
  }
  const auto points = history.series("hello", kT0 + 90 * 60, t);
  BOOST_TEST_REQUIRE(points.size() == 60u);
  // The 59 closed minutes shown are the last ones, each with its own count (m + 1).
  for (std::size_t i = 0; i < 59; ++i) {
    const std::int64_t m = 31 + static_cast<std::int64_t>(i);
    BOOST_TEST(points[i].minute == kT0 + m * 60);
    BOOST_TEST(points[i].requests == static_cast<std::uint64_t>(m + 1));
  }
  // A smaller ring forgets sooner: minute 5 shares its slot with minute 0, which is gone.
  MinuteHistory short_history(5);
  short_history.close_minute(kT0, {{"hello", grow({}, 3, 0, 0)}});
  const auto five = short_history.series("hello", kT0 + 6 * 60, grow({}, 3, 0, 0));
  BOOST_TEST_REQUIRE(five.size() == 5u);
  for (const auto& p : five) BOOST_TEST(p.requests == 0u);
}

BOOST_AUTO_TEST_CASE(a_group_never_seen_is_all_zero_and_groups_are_apart) {
  MinuteHistory history;
  history.close_minute(kT0, {{"hello", grow({}, 4, 0, 0)}, {"", grow({}, 9, 2, 0)}});
  const auto unknown = history.series("news", kT0 + 60, GroupTotals{});
  BOOST_TEST(unknown.size() == 60u);
  for (const auto& p : unknown) BOOST_TEST(p.requests == 0u);
  BOOST_TEST(history.series("", kT0 + 60, grow({}, 9, 2, 0))[58].errors == 2u);
  BOOST_TEST(history.series("hello", kT0 + 60, grow({}, 4, 0, 0))[58].errors == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
