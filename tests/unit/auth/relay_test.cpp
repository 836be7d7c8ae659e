// What instances tell each other through NOTIFY: taken once, when signed with the key, for its
// own purpose, and recent; a plugin's role (no key) can neither forge one nor play one again.
#include "auth/relay.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

using namespace passerelle;
using namespace passerelle::auth;

namespace {
SecretBox key(char fill) { return *SecretBox::from_text(std::string(43, fill)); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(relay)

BOOST_AUTO_TEST_CASE(a_signed_message_is_taken_once_and_only_for_its_purpose) {
  const SecretBox k = key('A');
  RelaySeen seen;
  const std::string sent = sign_relayed(k, "plugin ", "directorates.changed");
  BOOST_TEST(open_relayed(k, "plugin ", sent, seen, now_ms()).value_or("") ==
             "directorates.changed");
  BOOST_TEST(!open_relayed(k, "plugin ", sent, seen, now_ms()));  // played again
  RelaySeen elsewhere;
  BOOST_TEST(!open_relayed(k, "", sign_relayed(k, "plugin ", "s1:2"), elsewhere, now_ms()));
  BOOST_TEST(!open_relayed(key('Q'), "plugin ", sign_relayed(k, "plugin ", "x"), elsewhere,
                           now_ms()));  // another key
}

BOOST_AUTO_TEST_CASE(unsigned_tampered_or_old_messages_are_dropped) {
  const SecretBox k = key('A');
  RelaySeen seen;
  for (const char* text : {"*", "", ".", "..", "0.0-0.*", "abc.123-x.*"})
    BOOST_TEST(!open_relayed(k, "territories ", text, seen, now_ms()), text);
  std::string sent = sign_relayed(k, "territories ", "imported");
  std::string tampered = sent;
  tampered.back() = 'X';
  BOOST_TEST(!open_relayed(k, "territories ", tampered, seen, now_ms()));
  // Three minutes later (or earlier), the same message is refused for its time.
  BOOST_TEST(!open_relayed(k, "territories ", sent, seen, now_ms() + 180'000));
  BOOST_TEST(!open_relayed(k, "territories ", sent, seen, now_ms() - 180'000));
  BOOST_TEST(open_relayed(k, "territories ", sent, seen, now_ms()).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
