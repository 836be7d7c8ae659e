// Login throttling: limits per (account, client network) and per network, the wait announced,
// the window sliding, attempts counted from their start, and no lock-out of a chosen user from
// another network.
#include "auth/throttle.hpp"
#include "config/config.hpp"
#include "config/config_error.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(throttle)

BOOST_AUTO_TEST_CASE(account_limit_and_retry_after) {
  LoginThrottle t({3, 100, 600s});
  const auto t0 = LoginThrottle::Clock::now();
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0 + std::chrono::seconds(i)));
  auto wait = t.begin_attempt("marie", "10.0.0.1", t0 + 10s);
  BOOST_TEST_REQUIRE(wait.has_value());
  BOOST_TEST(wait->count() == 590);  // the first failure leaves the window at t0 + 600 s
  BOOST_TEST(!t.begin_attempt("olga", "10.0.0.1", t0 + 10s));
  BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0 + 601s));  // the window slid
}

BOOST_AUTO_TEST_CASE(an_attacker_elsewhere_cannot_lock_a_user_out) {
  LoginThrottle t({5, 20, 600s});
  const auto t0 = LoginThrottle::Clock::now();
  int refused = 0;
  for (int i = 0; i < 50; ++i)
    refused +=
        t.begin_attempt("elu.angers", "203.0.113.9", t0 + std::chrono::seconds(i)).has_value();
  BOOST_TEST(refused == 45);  // the attacker's network is stopped after 5 failures
  // The user, from their own network, still gets in; the attacker still does not.
  BOOST_TEST(!t.begin_attempt("elu.angers", "198.51.100.20", t0 + 60s));
  t.attempt_succeeded("elu.angers", "198.51.100.20", t0 + 60s);
  BOOST_TEST(t.begin_attempt("elu.angers", "203.0.113.9", t0 + 61s).has_value());
  // Nor does the attacker's success-free guessing on other accounts go on for long: the network
  // limit counts across accounts.
  for (int i = 0; i < 15; ++i)
    BOOST_TEST(!t.begin_attempt("user" + std::to_string(i), "203.0.113.9", t0 + 62s));
  BOOST_TEST(t.begin_attempt("someone", "203.0.113.9", t0 + 62s).has_value());
  BOOST_TEST(!t.begin_attempt("someone", "198.51.100.20", t0 + 62s).has_value());
}

BOOST_AUTO_TEST_CASE(networks_are_ipv4_slash_32_or_24_and_ipv6_slash_64) {
  BOOST_TEST(client_network("192.0.2.7", 32) == "192.0.2.7/32");
  BOOST_TEST(client_network("192.0.2.7", 24) == "192.0.2.0/24");
  BOOST_TEST(client_network("::ffff:192.0.2.7", 24) == "192.0.2.0/24");  // IPv4 behind a dual stack
  BOOST_TEST(client_network("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 32) == "2001:db8:1:2::/64");
  BOOST_TEST(client_network("2001:db8:1:2::1", 24) == "2001:db8:1:2::/64");
  BOOST_TEST(client_network("unknown", 32) == "unknown");

  // With /24, neighbours count together; with /32, they do not.
  const auto t0 = LoginThrottle::Clock::now();
  LoginThrottle wide({2, 100, 60s, 24});
  BOOST_TEST(!wide.begin_attempt("marie", "192.0.2.1", t0));
  BOOST_TEST(!wide.begin_attempt("marie", "192.0.2.2", t0));
  BOOST_TEST(wide.begin_attempt("marie", "192.0.2.3", t0).has_value());
  BOOST_TEST(!wide.begin_attempt("marie", "192.0.3.1", t0).has_value());
  LoginThrottle narrow({2, 100, 60s, 32});
  BOOST_TEST(!narrow.begin_attempt("marie", "192.0.2.1", t0));
  BOOST_TEST(!narrow.begin_attempt("marie", "192.0.2.1", t0));
  BOOST_TEST(!narrow.begin_attempt("marie", "192.0.2.3", t0).has_value());
  // One IPv6 subscriber (a /64) does not get a new budget per address.
  LoginThrottle v6({2, 100, 60s});
  BOOST_TEST(!v6.begin_attempt("marie", "2001:db8::1", t0));
  BOOST_TEST(!v6.begin_attempt("marie", "2001:db8::2", t0));
  BOOST_TEST(v6.begin_attempt("marie", "2001:db8::3", t0).has_value());
  BOOST_TEST(!v6.begin_attempt("marie", "2001:db8:0:1::3", t0).has_value());
}

BOOST_AUTO_TEST_CASE(parallel_attempts_count_before_they_finish) {
  LoginThrottle t({3, 100, 60s});
  const auto t0 = LoginThrottle::Clock::now();
  // Three attempts in flight at once: the fourth is refused before any of them has failed.
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0 + std::chrono::milliseconds(i)));
  BOOST_TEST(t.begin_attempt("marie", "10.0.0.1", t0 + 5ms).has_value());
  // One of them succeeds: the account is clear, and that attempt no longer counts for the network.
  t.attempt_succeeded("marie", "10.0.0.1", t0 + 1ms);
  BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0 + 6ms));
  LoginThrottle by_network({100, 2, 60s});
  BOOST_TEST(!by_network.begin_attempt("a", "10.0.0.1", t0));
  by_network.attempt_succeeded("a", "10.0.0.1", t0);
  BOOST_TEST(!by_network.begin_attempt("b", "10.0.0.1", t0));
  BOOST_TEST(!by_network.begin_attempt("c", "10.0.0.1", t0));
  BOOST_TEST(by_network.begin_attempt("d", "10.0.0.1", t0).has_value());
}

BOOST_AUTO_TEST_CASE(an_abandoned_attempt_does_not_count) {
  LoginThrottle t({1, 1, 60s});
  const auto t0 = LoginThrottle::Clock::now();
  BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0));
  t.attempt_abandoned("marie", "10.0.0.1", t0);  // e.g. answered 503 before the check
  BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0 + 1ms));
}

BOOST_AUTO_TEST_CASE(the_config_takes_a_prefix_of_32_or_24_only) {
  passerelle::test::TempDir dir;
  auto with = [&](const std::string& auth) {
    return dir.write("p.yaml", "tls:\n  certificate: c\n  private_key: k\nauth:\n" + auth);
  };
  BOOST_TEST(load_config(with("  throttle_ipv4_prefix: 24\n")).auth.throttle_ipv4_prefix == 24);
  BOOST_TEST(
      load_config(with("  max_pending_password_checks: 8\n")).auth.max_pending_password_checks ==
      8u);
  BOOST_CHECK_EXCEPTION(
      load_config(with("  throttle_ipv4_prefix: 28\n")), ConfigError, [](const ConfigError& e) {
        return std::string(e.what()).find(
                   "p.yaml:5:25: throttle_ipv4_prefix: must be 32 (one address) or 24") !=
               std::string::npos;
      });
}

BOOST_AUTO_TEST_SUITE_END()
