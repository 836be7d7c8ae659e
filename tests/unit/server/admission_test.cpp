// Admission: what a connection counts as against the per-address cap, and the cap holding for
// clients that change address within their network; the tracker's notice of a burst's end.
#include "server/connection_tracker.hpp"
#include "server/sessions.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

using namespace passerelle;

namespace {

std::optional<std::uint64_t> admit(ConnectionTracker& tracker, const std::string& remote) {
  return tracker.add({cap_key(remote), std::make_shared<std::atomic<bool>>(false), [](bool) {}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(admission)

BOOST_AUTO_TEST_CASE(an_ipv6_client_counts_as_its_64_and_an_ipv4_one_as_itself) {
  BOOST_TEST(cap_key("2001:db8:1:2::1") == cap_key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  BOOST_TEST(cap_key("2001:db8:1:2::1") != cap_key("2001:db8:1:3::1"));
  BOOST_TEST(cap_key("192.0.2.1") != cap_key("192.0.2.2"));
  BOOST_TEST(cap_key("::ffff:192.0.2.1") == cap_key("192.0.2.1"));
}

BOOST_AUTO_TEST_CASE(a_client_cycling_through_its_ipv6_64_stays_under_the_cap) {
  ConnectionTracker tracker({.total = 100, .per_address = 3, .reclaim_from = 100});
  for (int i = 1; i <= 3; ++i)
    BOOST_TEST(admit(tracker, "2001:db8::" + std::to_string(i)).has_value());
  // One host holds the whole /64: a fourth address of it is the same client.
  BOOST_TEST(!admit(tracker, "2001:db8::4").has_value());
  BOOST_TEST(!admit(tracker, "2001:db8::ffff:1").has_value());
  BOOST_TEST(admit(tracker, "2001:db8:0:1::1").has_value());  // another /64
  BOOST_TEST(admit(tracker, "192.0.2.1").has_value());
  BOOST_TEST(tracker.count() == 5u);
}

// A trusted load balancer (an entry without an address) carries many clients: no cap of its
// own, but the total still holds.
BOOST_AUTO_TEST_CASE(a_load_balancer_is_not_capped_per_address_but_the_total_holds) {
  ConnectionTracker tracker({.total = 5, .per_address = 2, .reclaim_from = 5});
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    auto id = tracker.add({"", std::make_shared<std::atomic<bool>>(false), [](bool) {}});
    BOOST_TEST_REQUIRE(id.has_value());
    ids.push_back(*id);
  }
  BOOST_TEST(admit(tracker, "192.0.2.1").has_value());
  BOOST_TEST(!tracker.add({"", std::make_shared<std::atomic<bool>>(false), [](bool) {}}));
  for (auto id : ids) tracker.remove(id);
  BOOST_TEST(tracker.count() == 1u);
  BOOST_TEST(admit(tracker, "192.0.2.1").has_value());
  BOOST_TEST(!admit(tracker, "192.0.2.1").has_value());  // the per-address cap, as before
}

BOOST_AUTO_TEST_CASE(the_end_of_a_burst_is_told_once_outside_the_tracker_lock) {
  ConnectionTracker tracker({.total = 1000, .per_address = 1000, .reclaim_from = 1000});
  std::vector<std::size_t> told;  // the count the callback saw, each time it was called
  auto now = BurstEndDetector::Clock::time_point{};
  // The callback asks the tracker: it would deadlock if called with the tracker's lock held.
  tracker.on_burst_end(
      BurstEndDetector(8, std::chrono::seconds(1)), [&] { told.push_back(tracker.count()); },
      [&] { return now; });
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 10; ++i) {
    const auto id = admit(tracker, "192.0.2.1");
    BOOST_TEST_REQUIRE(id.has_value());
    ids.push_back(*id);
  }
  for (int i = 0; i < 4; ++i) tracker.remove(ids[i]);  // 6 open: not yet half of 10
  BOOST_TEST(told.empty());
  tracker.remove(ids[4]);  // 5 open: the burst is over
  BOOST_TEST(told == std::vector<std::size_t>{5});
  for (int i = 5; i < 10; ++i) tracker.remove(ids[i]);  // the rest, within the same second
  BOOST_TEST(told.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
