// When the gateway gives free heap back to the system, and that it does give it back.
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
