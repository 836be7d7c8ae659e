// ID token and logout token claim checks, claim mapping and role rules.
#include "auth/oidc/claims.hpp"
#include "auth/oidc/relying_party.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
namespace json = boost::json;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

OidcProviderConfig provider() {
  OidcProviderConfig c;
  c.name = "proconnect";
  c.issuer = "https://auth.example";
  c.client_id = "passerelle";
  c.claims = {{"family_name", "usual_name"}};
  c.roles = {{"agent", "angers.fr", "", "", ""},
             {"elu", "", "21490007", "", ""},
             {"advisor", "", "", "organization_label", "Banque"}};
  return c;
}

json::object good_claims() {
  return {{"iss", "https://auth.example"},
          {"aud", "passerelle"},
          {"sub", "s-1"},
          {"nonce", "n-1"},
          {"iat", kNow - 5},
          {"exp", kNow + 60}};
}

std::string check(json::object c, const std::string& nonce = "n-1") {
  return oidc::check_id_token_claims(c, provider(), nonce, kNow);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oidc_claims)

BOOST_AUTO_TEST_CASE(id_token_checks) {
  BOOST_TEST(check(good_claims()) == "");
  auto c = good_claims();
  c["exp"] = kNow - 3600;
  BOOST_TEST(check(c) == "expired ID token");
  c = good_claims();
  c["aud"] = "someone-else";
  BOOST_TEST(check(c) == "wrong audience");
  c = good_claims();
  c["aud"] = json::array{"passerelle", "other"};
  BOOST_TEST(check(c) == "wrong authorized party");
  c["azp"] = "passerelle";
  BOOST_TEST(check(c) == "");
  BOOST_TEST(check(good_claims(), "n-2") == "wrong nonce");
  c = good_claims();
  c.erase("nonce");
  BOOST_TEST(check(c) == "wrong nonce");
  c = good_claims();
  c["iss"] = "https://evil.example";
  BOOST_TEST(check(c) == "wrong issuer");
  c = good_claims();
  c["iat"] = kNow + 3600;
  BOOST_TEST(check(c) == "ID token issued at an unlikely time");
  c = good_claims();
  c.erase("sub");
  BOOST_TEST(check(c) == "no subject");
}

BOOST_AUTO_TEST_CASE(logout_token_checks) {
  json::object c{{"iss", "https://auth.example"},
                 {"aud", "passerelle"},
                 {"iat", kNow},
                 {"exp", kNow + 120},
                 {"sid", "abc"},
                 {"jti", "j-1"},
                 {"events", json::object{{"http://schemas.openid.net/event/backchannel-logout",
                                          json::object{}}}}};
  BOOST_TEST(oidc::check_logout_token_claims(c, provider(), kNow) == "");
  auto bad = c;
  bad["nonce"] = "x";
  BOOST_TEST(oidc::check_logout_token_claims(bad, provider(), kNow) ==
             "logout token: carries a nonce");
  bad = c;
  bad.erase("events");
  BOOST_TEST(oidc::check_logout_token_claims(bad, provider(), kNow) ==
             "logout token: no back-channel logout event");
  bad = c;
  bad["events"] = json::object{{"http://schemas.openid.net/event/backchannel-logout", true}};
  BOOST_TEST(oidc::check_logout_token_claims(bad, provider(), kNow) ==
             "logout token: no back-channel logout event");
  bad = c;
  bad["exp"] = 1e300;  // no int64: refused, never converted
  BOOST_TEST(oidc::check_logout_token_claims(bad, provider(), kNow) == "logout token: no expiry");
  bad = c;
  bad.erase("exp");
  BOOST_TEST(oidc::check_logout_token_claims(bad, provider(), kNow) == "logout token: no expiry");
  bad = c;
  bad.erase("sid");
  BOOST_TEST(oidc::check_logout_token_claims(bad, provider(), kNow) ==
             "logout token: names no session");
  bad = c;
  bad.erase("jti");
  BOOST_TEST(oidc::check_logout_token_claims(bad, provider(), kNow) == "logout token: no jti");
}

BOOST_AUTO_TEST_CASE(logout_token_type) {
  BOOST_TEST(oidc::check_logout_token_header({{"alg", "RS256"}}) == "");  // typ is optional
  BOOST_TEST(oidc::check_logout_token_header({{"typ", "logout+jwt"}}) == "");
  BOOST_TEST(oidc::check_logout_token_header({{"typ", "application/Logout+JWT"}}) == "");
  BOOST_TEST(oidc::check_logout_token_header({{"typ", "JWT"}}) ==
             "logout token: typ is not logout+jwt");
  BOOST_TEST(oidc::check_logout_token_header({{"typ", 1}}) ==
             "logout token: typ is not logout+jwt");
}

BOOST_AUTO_TEST_CASE(discovery_url_strips_the_trailing_slash_of_the_issuer) {
  BOOST_TEST(oidc::discovery_url("https://auth.example/realms/x/") ==
             "https://auth.example/realms/x/.well-known/openid-configuration");
  BOOST_TEST(oidc::discovery_url("https://auth.example") ==
             "https://auth.example/.well-known/openid-configuration");
}

BOOST_AUTO_TEST_CASE(discovery_documents_are_checked) {
  const std::string issuer = "https://auth.example/";
  oidc::Discovery d{issuer,
                    "https://auth.example/authorize",
                    "https://auth.example/token",
                    "https://auth.example/jwks",
                    "",
                    "https://auth.example/logout"};
  BOOST_TEST(oidc::check_discovery(d, issuer) == "");
  // The issuer is compared exactly as configured: with its "/".
  BOOST_TEST(oidc::check_discovery(d, "https://auth.example") ==
             "discovery names another issuer (\"https://auth.example/\" instead of "
             "\"https://auth.example\")");
  auto plain = d;
  plain.token_endpoint = "http://auth.example/token";
  BOOST_TEST(oidc::check_discovery(plain, issuer) ==
             "discovery gives an endpoint that is not https:// (token_endpoint)");
  plain = d;
  plain.end_session_endpoint = "javascript:alert(1)";
  BOOST_TEST(oidc::check_discovery(plain, issuer) ==
             "discovery gives an endpoint that is not https:// (end_session_endpoint)");
  plain = d;
  plain.jwks_uri = "http://127.0.0.1:9000/jwks";  // loopback: tests
  BOOST_TEST(oidc::check_discovery(plain, issuer) == "");
  plain.jwks_uri = "http://127.0.0.1.evil.example/jwks";
  BOOST_TEST(oidc::check_discovery(plain, issuer) ==
             "discovery gives an endpoint that is not https:// (jwks_uri)");
  plain = d;
  plain.jwks_uri.clear();
  BOOST_TEST(oidc::check_discovery(plain, issuer) ==
             "discovery lacks an endpoint (authorization, token or jwks_uri)");
}

BOOST_AUTO_TEST_CASE(proconnect_claims_and_role_rules) {
  json::object claims{{"sub", "s-1"},
                      {"email", "Marie.Dupont@Angers.fr"},
                      {"given_name", "Marie"},
                      {"usual_name", "Dupont"},
                      {"siret", "21490007800012"},
                      {"organization_label", "Commune d'Angers"}};
  auto p = oidc::map_claims(provider(), claims);
  BOOST_TEST(p.display_name == "Marie Dupont");
  BOOST_TEST(p.email == "Marie.Dupont@Angers.fr");
  BOOST_TEST(p.siret == "21490007800012");
  BOOST_TEST((p.roles == std::vector<std::string>{"agent", "elu"}));

  claims["email"] = "paul@banque.example";
  claims["siret"] = "not-a-siret";
  claims["organization_label"] = "Banque";
  p = oidc::map_claims(provider(), claims);
  BOOST_TEST(p.siret == "");
  BOOST_TEST((p.roles == std::vector<std::string>{"advisor"}));

  auto config = provider();
  config.default_roles = {"agent"};
  claims["organization_label"] = "Other";
  claims["email"] = "x@notangers.fr";  // a suffix, not the domain
  BOOST_TEST((oidc::map_claims(config, claims).roles == std::vector<std::string>{"agent"}));
  config.default_roles.clear();
  BOOST_TEST(oidc::map_claims(config, claims).roles.empty());

  // Domain rules trust neither an address marked unverified nor one with two @.
  claims["email"] = "marie@angers.fr";
  BOOST_TEST((oidc::map_claims(config, claims).roles == std::vector<std::string>{"agent"}));
  claims["email_verified"] = false;
  BOOST_TEST(oidc::map_claims(config, claims).roles.empty());
  claims["email_verified"] = true;
  claims["email"] = "x@evil.example@angers.fr";
  BOOST_TEST(oidc::map_claims(config, claims).roles.empty());
}

// What lets a login take an invitation: email_verified true, or a provider that vouches for
// its addresses and does not say otherwise.
BOOST_AUTO_TEST_CASE(an_address_is_verified_when_the_provider_says_so) {
  OidcProviderConfig config = provider();
  json::object claims{{"email", "marie@angers.fr"}};
  BOOST_TEST(!oidc::map_claims(config, claims).email_verified);  // said nothing
  claims["email_verified"] = true;
  BOOST_TEST(oidc::map_claims(config, claims).email_verified);
  claims["email_verified"] = "true";
  BOOST_TEST(oidc::map_claims(config, claims).email_verified);
  claims["email_verified"] = "false";
  BOOST_TEST(!oidc::map_claims(config, claims).email_verified);
  config.verified_emails = true;
  BOOST_TEST(!oidc::map_claims(config, claims).email_verified);  // said otherwise
  claims.erase("email_verified");
  BOOST_TEST(oidc::map_claims(config, claims).email_verified);
  claims["email"] = "a@b@angers.fr";
  BOOST_TEST(!oidc::map_claims(config, claims).email_verified);
}

BOOST_AUTO_TEST_SUITE_END()
