// When the gateway gives free heap back to the system (periodic checks, and the end of a burst
// as the connection tracker sees it), and that it does give it back.
#include "util/heap_trim.hpp"

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

using namespace passerelle;

namespace {

constexpr std::size_t kMiB = 1024 * 1024;

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(heap_trim)

BOOST_AUTO_TEST_CASE(trims_once_a_burst_has_ended_never_under_a_steady_load) {
  HeapTrimPolicy policy(8 * kMiB);
  BOOST_TEST(!policy.should_trim(0, 50 * kMiB));     // nothing to compare with yet
  BOOST_TEST(!policy.should_trim(1000, 50 * kMiB));  // a burst begins
  BOOST_TEST(!policy.should_trim(1000, 50 * kMiB));  // steady: freed memory is reused
  BOOST_TEST(!policy.should_trim(600, 50 * kMiB));   // falling, not yet by half
  BOOST_TEST(policy.should_trim(12, 50 * kMiB));     // the burst is over
  BOOST_TEST(!policy.should_trim(0, 1 * kMiB));      // idle, and trimmed already
  BOOST_TEST(policy.should_trim(0, 9 * kMiB));       // idle, and something freed much since
}

BOOST_AUTO_TEST_CASE(a_fall_with_little_free_memory_is_left_alone) {
  HeapTrimPolicy policy(8 * kMiB);
  BOOST_TEST(!policy.should_trim(1000, 2 * kMiB));
  BOOST_TEST(!policy.should_trim(0, 2 * kMiB));
}

BOOST_AUTO_TEST_CASE(a_burst_end_noticed_by_the_tracker_trims_whatever_the_previous_check_saw) {
  HeapTrimPolicy policy(8 * kMiB);
  BOOST_TEST(!policy.should_trim(20, 50 * kMiB));  // checked in a pause between two bursts
  // The next burst came and went between two periodic checks: 20 then 20, no fall seen...
  BOOST_TEST(!policy.should_trim(20, 50 * kMiB));
  // ...but the tracker saw it fall, and brought the check forward.
  BOOST_TEST(policy.should_trim(20, 50 * kMiB, true));
  BOOST_TEST(!policy.should_trim(20, 1 * kMiB, true));  // nothing worth giving back
}

using Clock = BurstEndDetector::Clock;

BOOST_AUTO_TEST_CASE(a_burst_ends_when_connections_fall_to_half_their_peak) {
  BurstEndDetector detector(64, std::chrono::seconds(1));
  Clock::time_point t{};
  int clock_reads = 0;
  const auto now = [&] {
    ++clock_reads;
    return t;
  };
  for (std::size_t n = 1; n <= 1000; ++n) detector.opened(n);
  BOOST_TEST(!detector.closed(999, now));
  BOOST_TEST(!detector.closed(501, now));
  BOOST_TEST(clock_reads == 0);  // a close that ends nothing does not read the clock
  BOOST_TEST(detector.closed(500, now));
  // Told once: the rest of the same burst closing says nothing more.
  t += std::chrono::seconds(5);
  BOOST_TEST(!detector.closed(300, now));
  BOOST_TEST(detector.closed(250, now));  // half of where it was told, much later: told again
}

BOOST_AUTO_TEST_CASE(a_steady_load_never_ends_a_burst) {
  BurstEndDetector detector(64, std::chrono::seconds(1));
  Clock::time_point t{};
  const auto now = [&] { return t; };
  for (std::size_t n = 1; n <= 1000; ++n) detector.opened(n);
  // Connections come and go around 1000 for a long while.
  for (int i = 0; i < 10000; ++i) {
    t += std::chrono::milliseconds(10);
    BOOST_TEST_REQUIRE(!detector.closed(990 + i % 10, now));
    detector.opened(991 + i % 10);
  }
}

BOOST_AUTO_TEST_CASE(small_bursts_are_not_worth_a_trim) {
  BurstEndDetector detector(64, std::chrono::seconds(1));
  const auto now = [] { return Clock::time_point{}; };
  for (std::size_t n = 1; n <= 63; ++n) detector.opened(n);
  BOOST_TEST(!detector.closed(0, now));
}

BOOST_AUTO_TEST_CASE(burst_ends_are_told_at_most_once_per_gap) {
  BurstEndDetector detector(64, std::chrono::seconds(1));
  Clock::time_point t{};
  const auto now = [&] { return t; };
  for (std::size_t n = 1; n <= 100; ++n) detector.opened(n);
  BOOST_TEST(detector.closed(0, now));
  // Another burst at once: its end comes too soon after the last notice...
  t += std::chrono::milliseconds(300);
  for (std::size_t n = 1; n <= 100; ++n) detector.opened(n);
  BOOST_TEST(!detector.closed(50, now));
  BOOST_TEST(!detector.closed(10, now));
  // ...so a later close of that burst, once the gap has passed, tells it.
  t += std::chrono::milliseconds(700);
  BOOST_TEST(detector.closed(9, now));
}

BOOST_AUTO_TEST_CASE(trimming_returns_free_pages_to_the_system) {
  // 16 MiB in 4 KiB blocks, all freed but the last: the free space sits below a block in use,
  // where glibc's own trimming (the top of the heap only) cannot give it back.
  std::vector<char*> blocks;
  for (int i = 0; i < 4096; ++i) {
    auto* block = static_cast<char*>(std::malloc(4096));
    BOOST_TEST_REQUIRE(block);
    std::memset(block, 1, 4096);
    blocks.push_back(block);
  }
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i) std::free(blocks[i]);
  BOOST_TEST(heap_figures().free >= 15 * kMiB);
  const std::size_t before = resident_bytes();
  trim_heap();
  const std::size_t after = resident_bytes();
  BOOST_TEST(after + 8 * kMiB <= before, "resident " << before << " -> " << after);
  std::free(blocks.back());
}

BOOST_AUTO_TEST_SUITE_END()
