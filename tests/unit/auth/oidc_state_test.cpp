// Sign-ins in progress carried by a sealed cookie, and the replay set that lets a state or a
// logout token serve once.
#include "auth/oidc/pending_login.hpp"
#include "auth/replay_set.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;

BOOST_AUTO_TEST_SUITE(oidc_state)

BOOST_AUTO_TEST_CASE(a_pending_login_round_trips_only_with_our_key) {
  const auto box = SecretBox::from_raw_key(std::string(32, 'k'));
  const oidc::PendingLogin p{"test",       "state-1",         "nonce-1",
                             "verifier-1", "/api/me?x=1&y=2", 1'800'000'600};
  const std::string cookie = oidc::seal_pending_login(p, box);
  // Cookie-safe (base64url) and opaque: neither the nonce nor the verifier can be read.
  BOOST_TEST(cookie.find_first_not_of(
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
             std::string::npos);
  BOOST_TEST(cookie.find("verifier") == std::string::npos);
  auto back = oidc::open_pending_login(cookie, box);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(back->provider == "test");
  BOOST_TEST(back->state == "state-1");
  BOOST_TEST(back->nonce == "nonce-1");
  BOOST_TEST(back->verifier == "verifier-1");
  BOOST_TEST(back->next == "/api/me?x=1&y=2");
  BOOST_TEST(back->expires_at == 1'800'000'600);
  BOOST_TEST(
      !oidc::open_pending_login(cookie, SecretBox::from_raw_key(std::string(32, 'x'))).has_value());
  BOOST_TEST(!oidc::open_pending_login(cookie.substr(1), box).has_value());
  BOOST_TEST(!oidc::open_pending_login("", box).has_value());
  // A value sealed for another use does not pass for a pending login.
  BOOST_TEST(!oidc::open_pending_login(box.seal("{\"p\":\"test\"}", "sessions.id_token"), box)
                  .has_value());
}

BOOST_AUTO_TEST_CASE(a_value_serves_once_until_it_expires) {
  ReplaySet set(100);
  BOOST_TEST(set.first_use("s1", 1000, 900));
  BOOST_TEST(!set.first_use("s1", 1000, 950));  // replay
  BOOST_TEST(set.first_use("s2", 1000, 950));
  // Past its expiry a value is forgotten (its owner refuses it on its own by then).
  BOOST_TEST(set.first_use("s3", 2000, 1001));
  BOOST_TEST(set.size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_set_is_bounded) {
  ReplaySet set(3);
  for (int i = 0; i < 10; ++i) BOOST_TEST(set.first_use("k" + std::to_string(i), 1000 + i, 0));
  BOOST_TEST(set.size() == 3u);
  BOOST_TEST(!set.first_use("k9", 2000, 0));  // the latest are still remembered
}

BOOST_AUTO_TEST_CASE(a_full_set_still_refuses_a_value_it_holds) {
  // When full, room is made for a new value: never by forgetting the very value offered.
  ReplaySet set(2);
  BOOST_TEST(set.first_use("oldest", 1000, 0));
  BOOST_TEST(set.first_use("newer", 2000, 0));
  BOOST_TEST(!set.first_use("oldest", 1000, 10));
  BOOST_TEST(!set.first_use("newer", 2000, 10));
}

BOOST_AUTO_TEST_SUITE_END()
