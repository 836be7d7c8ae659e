// Accounts and sessions over a real store: rules, password checks, federation links, expiry.
#include "auth/accounts.hpp"
#include "auth/crypto.hpp"
#include "auth/secret_box.hpp"
#include "auth/sessions.hpp"
#include "store/core_schema.hpp"
#include "store/sqlite_store.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"
#include "util/blocking_pool.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace passerelle;
using passerelle::test::run;
using passerelle::test::TempDir;

namespace {
struct AccountsApp {
  TempDir dir;
  SqliteStore store{dir.path() + "/db.sqlite", 2};
  BlockingPool pool{1};
  Accounts accounts{store, pool, false};
  SecretBox secrets = SecretBox::from_raw_key(std::string(32, 'k'));
  AccountsApp() { run(store.migrate("core", core_migrations())); }

  std::int64_t add(const std::string& username, std::vector<std::string> roles = {"elu"}) {
    return run(accounts.create(
        {username, "correct horse battery", "Marie Dupont", "m@angers.fr", roles, "49007", ""}));
  }
  std::string error_of(NewAccount a) {
    try {
      run(accounts.create(std::move(a)));
    } catch (const AccountError& e) {
      return e.what();
    }
    return "";
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(accounts)

BOOST_FIXTURE_TEST_CASE(create_find_and_check_password, AccountsApp) {
  const auto id = add("marie");
  auto found = run(accounts.find_by_username("marie"));
  BOOST_TEST_REQUIRE(found.has_value());
  BOOST_TEST(found->id == id);
  BOOST_TEST(found->commune_insee == "49007");
  BOOST_TEST(run(accounts.check_password("marie", "correct horse battery")).has_value());
  BOOST_TEST(!run(accounts.check_password("marie", "wrong")).has_value());
  BOOST_TEST(!run(accounts.check_password("nobody", "correct horse battery")).has_value());
  run(accounts.set_enabled("marie", false));
  BOOST_TEST(!run(accounts.check_password("marie", "correct horse battery")).has_value());
  auto identity = Accounts::identity_of(*found, "local");
  BOOST_TEST(identity.subject == "u-" + std::to_string(id));
  BOOST_TEST(identity.has_role("elu"));
}

BOOST_FIXTURE_TEST_CASE(bad_input_is_refused_with_a_reason, AccountsApp) {
  add("marie");
  BOOST_TEST(error_of({"marie", "correct horse battery", "M", "", {}, "", ""}) ==
             "the username \"marie\" is taken");
  BOOST_TEST(error_of({"Marie!", "correct horse battery", "M", "", {}, "", ""}) ==
             "the username must have 3 to 64 of a-z 0-9 . _ -");
  BOOST_TEST(error_of({"paul", "short", "M", "", {}, "", ""}) ==
             "the password must have at least 12 characters");
  BOOST_TEST(error_of({"paul", kDemoPassword, "M", "", {}, "", ""}) ==
             "the demo password is refused outside demo mode");
  BOOST_TEST(error_of({"paul", "correct horse battery", "M", "", {}, "4900", ""}) ==
             "the commune must be an INSEE code such as 49007");
  BOOST_TEST(error_of({"paul", "correct horse battery", "M", "", {}, "", "123"}) ==
             "the SIRET must have 14 digits");
  BOOST_CHECK_THROW(parse_roles("elu,mayor"), AccountError);
  BOOST_TEST((parse_roles("elu,agent,elu") == std::vector<std::string>{"elu", "agent"}));
}

BOOST_FIXTURE_TEST_CASE(federated_accounts_are_linked_by_provider_and_subject, AccountsApp) {
  FederatedProfile p{"Marie Dupont", "marie@angers.fr", {"agent"}, "", "21490007800012"};
  Account first = run(accounts.link_federated("proconnect", "sub-1", p));
  p.roles = {"elu"};
  p.display_name = "Marie Dupont-Durand";
  Account again = run(accounts.link_federated("proconnect", "sub-1", p));
  BOOST_TEST(again.id == first.id);
  BOOST_TEST(again.display_name == "Marie Dupont-Durand");  // claims re-applied at each login
  BOOST_TEST((again.roles == std::vector<std::string>{"elu"}));
  Account other = run(accounts.link_federated("keycloak", "sub-1", p));
  BOOST_TEST(other.id != first.id);
}

BOOST_FIXTURE_TEST_CASE(sessions_resolve_expire_and_end, AccountsApp) {
  const auto id = add("marie");
  Sessions sessions(store, secrets, {std::chrono::seconds(3600), std::chrono::seconds(3600)});
  const std::string cookie = run(sessions.create(id, "local", nullptr, ""));
  auto s = run(sessions.resolve(cookie));
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->user_id == id);
  BOOST_TEST(s->csrf_token.size() == 43u);
  BOOST_TEST(!run(sessions.resolve(cookie + "x")).has_value());
  // Only the hash is stored.
  const auto stored =
      run(store.query({"SELECT count(*) FROM sessions WHERE id_hash = ?1", {cookie}}));
  BOOST_TEST(std::get<std::int64_t>(stored.rows.at(0).at(0)) == 0);
  run(sessions.destroy(cookie));
  BOOST_TEST(!run(sessions.resolve(cookie)).has_value());

  Sessions expired(store, secrets, {std::chrono::seconds(3600), std::chrono::seconds(-1)});
  const std::string old = run(expired.create(id, "local", nullptr, ""));
  BOOST_TEST(!run(expired.resolve(old)).has_value());
  BOOST_TEST(!run(sessions.resolve(old)).has_value());  // deleted, not just refused

  OidcSessionInfo oidc{"sid-9", "sub-9", "id.token", "refresh"};
  const std::string federated = run(sessions.create(id, "test", &oidc, ""));
  BOOST_TEST(run(sessions.resolve(federated))->oidc.sid == "sid-9");
  BOOST_TEST(run(sessions.destroy_federated("test", "sid-9", "")) == 1);
  BOOST_TEST(!run(sessions.resolve(federated)).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_user_lists_and_ends_only_their_own_sessions, AccountsApp) {
  const auto marie = add("marie");
  const auto paul = add("paul");
  Sessions sessions(store, secrets, {std::chrono::seconds(3600), std::chrono::seconds(3600)});
  const std::string first = run(sessions.create(marie, "local", nullptr, ""));
  const std::string second = run(sessions.create(marie, "test", nullptr, ""));
  const std::string other = run(sessions.create(paul, "local", nullptr, ""));

  auto list = run(sessions.list_for_user(marie));
  BOOST_TEST_REQUIRE(list.size() == 2u);
  std::vector<std::string> ids{list[0].id, list[1].id};
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected{Sessions::public_id(first), Sessions::public_id(second)};
  std::sort(expected.begin(), expected.end());
  BOOST_TEST(ids == expected);
  for (const auto& s : list) {
    BOOST_TEST(s.id.size() == 16u);
    BOOST_TEST(s.created_at > 0);
    BOOST_TEST(s.last_seen >= s.created_at);
    // Neither the cookie nor its stored hash is shown.
    BOOST_TEST(first.find(s.id) == std::string::npos);
    BOOST_TEST(s.id != auth::sha256_hex(first).substr(0, 16));
  }

  // Paul cannot end Marie's session; an unknown or malformed id ends nothing.
  BOOST_TEST(!run(sessions.destroy_by_public_id(paul, Sessions::public_id(second))));
  BOOST_TEST(!run(sessions.destroy_by_public_id(marie, "0123456789abcdef")));
  BOOST_TEST(!run(sessions.destroy_by_public_id(marie, "")));
  BOOST_TEST(run(sessions.resolve(second)).has_value());
  BOOST_TEST(run(sessions.destroy_by_public_id(marie, Sessions::public_id(second))));
  BOOST_TEST(!run(sessions.resolve(second)).has_value());
  BOOST_TEST(run(sessions.resolve(first)).has_value());

  run(sessions.create(marie, "local", nullptr, ""));
  BOOST_TEST(run(sessions.destroy_all_for_user(marie)) == 2);
  BOOST_TEST(run(sessions.list_for_user(marie)).empty());
  BOOST_TEST(!run(sessions.resolve(first)).has_value());
  BOOST_TEST(run(sessions.resolve(other)).has_value());  // another user's stay open

  // Expired sessions are not listed.
  Sessions expired(store, secrets, {std::chrono::seconds(3600), std::chrono::seconds(-1)});
  run(expired.create(marie, "local", nullptr, ""));
  BOOST_TEST(run(expired.list_for_user(marie)).empty());
}

BOOST_FIXTURE_TEST_CASE(back_channel_logout_matches_sid_and_sub_when_both_are_given, AccountsApp) {
  const auto id = add("marie");
  Sessions sessions(store, secrets, {std::chrono::seconds(3600), std::chrono::seconds(3600)});
  OidcSessionInfo mine{"sid-1", "sub-1", "", ""};
  const std::string cookie = run(sessions.create(id, "test", &mine, ""));
  // A token naming this sid with another subject ends nothing.
  BOOST_TEST(run(sessions.destroy_federated("test", "sid-1", "sub-2")) == 0);
  BOOST_TEST(run(sessions.resolve(cookie)).has_value());
  BOOST_TEST(run(sessions.destroy_federated("other", "sid-1", "sub-1")) == 0);
  BOOST_TEST(run(sessions.destroy_federated("test", "", "")) == 0);
  BOOST_TEST(run(sessions.destroy_federated("test", "sid-1", "sub-1")) == 1);
  BOOST_TEST(!run(sessions.resolve(cookie)).has_value());
}

BOOST_FIXTURE_TEST_CASE(provider_tokens_are_sealed_in_the_store, AccountsApp) {
  const auto id = add("marie");
  Sessions sessions(store, secrets, {std::chrono::seconds(3600), std::chrono::seconds(3600)});
  OidcSessionInfo oidc{"sid-9", "sub-9", "eyJ.id-token.sig", "refresh-secret"};
  const std::string cookie = run(sessions.create(id, "test", &oidc, ""));
  auto rows = run(store.query({"SELECT id_token, refresh_token FROM sessions", {}}));
  BOOST_TEST_REQUIRE(rows.rows.size() == 1u);
  for (const auto& v : rows.rows[0]) {
    const std::string stored = std::get<std::string>(v);
    BOOST_TEST(stored.rfind("enc1:", 0) == 0u);
    BOOST_TEST(stored.find("id-token") == std::string::npos);
    BOOST_TEST(stored.find("refresh-secret") == std::string::npos);
  }
  auto s = run(sessions.resolve(cookie));
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->oidc.id_token == "eyJ.id-token.sig");
  BOOST_TEST(s->oidc.refresh_token == "refresh-secret");

  // A row written in plain text by an older version is sealed at start-up, and still reads.
  run(store.query(
      {"UPDATE sessions SET id_token = 'plain.id.token', refresh_token = 'plain-refresh'", {}}));
  BOOST_TEST(run(sessions.seal_plaintext_tokens()) == 1);
  BOOST_TEST(run(sessions.seal_plaintext_tokens()) == 0);
  rows = run(store.query({"SELECT id_token, refresh_token FROM sessions", {}}));
  BOOST_TEST(std::get<std::string>(rows.rows[0][0]).rfind("enc1:", 0) == 0u);
  BOOST_TEST(std::get<std::string>(rows.rows[0][1]).rfind("enc1:", 0) == 0u);
  s = run(sessions.resolve(cookie));
  BOOST_TEST(s->oidc.id_token == "plain.id.token");
  BOOST_TEST(s->oidc.refresh_token == "plain-refresh");
}

BOOST_AUTO_TEST_SUITE_END()
