// Admission: what a connection counts as against the per-address cap, and the cap holding for
// clients that change address within their network.
#include "server/connection_tracker.hpp"
#include "server/sessions.hpp"

#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_SUITE_END()
