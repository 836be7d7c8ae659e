// Login throttling: limits per account and per address, the wait announced, the window sliding,
// attempts counted from their start.
#include "auth/throttle.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(throttle)

BOOST_AUTO_TEST_CASE(account_limit_and_retry_after) {
  LoginThrottle t({3, 100, 600s});
  const auto t0 = LoginThrottle::Clock::now();
  for (int i = 0; i < 3; ++i) BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0 + std::chrono::seconds(i)));
  auto wait = t.begin_attempt("marie", "10.0.0.2", t0 + 10s);
  BOOST_TEST_REQUIRE(wait.has_value());
  BOOST_TEST(wait->count() == 590);  // the first failure leaves the window at t0 + 600 s
  BOOST_TEST(!t.begin_attempt("olga", "10.0.0.1", t0 + 10s));
  BOOST_TEST(!t.begin_attempt("marie", "10.0.0.1", t0 + 601s));  // the window slid
}

BOOST_AUTO_TEST_CASE(address_limit_across_accounts) {
  LoginThrottle t({100, 4, 60s});
  const auto t0 = LoginThrottle::Clock::now();
  for (int i = 0; i < 4; ++i) BOOST_TEST(!t.begin_attempt("user" + std::to_string(i), "10.0.0.9", t0));
  BOOST_TEST(t.begin_attempt("someone", "10.0.0.9", t0 + 1s).has_value());
  BOOST_TEST(!t.begin_attempt("someone", "10.0.0.8", t0 + 1s).has_value());
}

BOOST_AUTO_TEST_CASE(parallel_attempts_count_before_they_finish) {
  LoginThrottle t({3, 100, 60s});
  const auto t0 = LoginThrottle::Clock::now();
  // Three attempts in flight at once: the fourth is refused before any of them has failed.
  for (int i = 0; i < 3; ++i) BOOST_TEST(!t.begin_attempt("marie", "ip", t0 + std::chrono::milliseconds(i)));
  BOOST_TEST(t.begin_attempt("marie", "ip", t0 + 5ms).has_value());
  // One of them succeeds: the account is clear, and that attempt no longer counts for the address.
  t.attempt_succeeded("marie", "ip", t0 + 1ms);
  BOOST_TEST(!t.begin_attempt("marie", "ip", t0 + 6ms));
  LoginThrottle by_address({100, 2, 60s});
  BOOST_TEST(!by_address.begin_attempt("a", "ip", t0));
  by_address.attempt_succeeded("a", "ip", t0);
  BOOST_TEST(!by_address.begin_attempt("b", "ip", t0));
  BOOST_TEST(!by_address.begin_attempt("c", "ip", t0));
  BOOST_TEST(by_address.begin_attempt("d", "ip", t0).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
