// Addresses as text, and the client a trusted load balancer names in X-Forwarded-For.
#include "util/ip_address.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;

BOOST_AUTO_TEST_SUITE(ip_address)

BOOST_AUTO_TEST_CASE(an_address_has_one_spelling) {
  BOOST_TEST(canonical_address("127.0.0.1") == "127.0.0.1");
  BOOST_TEST(canonical_address("2001:DB8:0:0::1") == "2001:db8::1");
  BOOST_TEST(canonical_address("::ffff:192.0.2.7") == "192.0.2.7");
  BOOST_TEST(canonical_address("10.0.0.0/8") == "");  // a network is not an address
  BOOST_TEST(canonical_address("localhost") == "");
  BOOST_TEST(canonical_address("1.2.3.4 ") == "");
  BOOST_TEST(canonical_address("") == "");
  BOOST_TEST(canonical_address(std::string(100, '1')) == "");
}

// Only the last entry is the balancer's: what comes before is whatever the client wrote.
BOOST_AUTO_TEST_CASE(the_client_is_the_last_entry_and_only_it) {
  BOOST_TEST(forwarded_client("192.0.2.7") == "192.0.2.7");
  BOOST_TEST(forwarded_client("6.6.6.6, 192.0.2.7") == "192.0.2.7");
  BOOST_TEST(forwarded_client("6.6.6.6,\t2001:db8::2 ") == "2001:db8::2");
  BOOST_TEST(forwarded_client("192.0.2.7, unknown") == "");
  BOOST_TEST(forwarded_client("192.0.2.7,") == "");
  BOOST_TEST(forwarded_client("") == "");
  BOOST_TEST(forwarded_client("192.0.2.7:443") == "");
}

BOOST_AUTO_TEST_SUITE_END()
