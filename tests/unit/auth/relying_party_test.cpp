// The relying party against a scripted provider: discovery of an issuer ending in "/", key
// fetches only for well-formed tokens, one fetch shared by concurrent callers, at most one per
// interval for unknown key ids, and keys kept when a refresh fails.
#include "auth/oidc/relying_party.hpp"
#include "auth/jose.hpp"
#include "support/run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

using namespace passerelle;
namespace json = boost::json;

namespace {

constexpr const char* kIssuer = "https://op.example/";

// A provider: its discovery document and a JWKS the test changes; fetches are counted, and the
// JWKS answer waits a little, so that concurrent callers overlap.
struct FakeProvider final : HttpClient {
  std::vector<std::string> urls;
  std::vector<const jose::SigningKey*> published;
  bool jwks_fails = false;

  int count(const std::string& url) const {
    return static_cast<int>(std::count(urls.begin(), urls.end(), url));
  }

  Task<OutboundResponse> fetch(OutboundRequest r) override {
    urls.push_back(r.url);
    OutboundResponse out;
    out.status = 404;
    if (r.url == "https://op.example/.well-known/openid-configuration") {
      out.status = 200;
      out.body = json::serialize(json::object{{"issuer", kIssuer},
                                              {"authorization_endpoint", "https://op.example/auth"},
                                              {"token_endpoint", "https://op.example/token"},
                                              {"jwks_uri", "https://op.example/jwks"}});
    } else if (r.url == "https://op.example/jwks") {
      boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor,
                                      std::chrono::milliseconds(5));
      co_await pause.async_wait(boost::asio::use_awaitable);
      json::array keys;
      for (const auto* k : published) keys.push_back(k->public_jwk());
      out.status = jwks_fails ? 500 : 200;
      out.body = json::serialize(json::object{{"keys", std::move(keys)}});
    }
    co_return out;
  }
};

OidcProviderConfig config() {
  OidcProviderConfig c;
  c.name = "op";
  c.issuer = kIssuer;
  c.client_id = "passerelle";
  return c;
}

// A token signed by `key`: ES256 with typ JWT, so that a logout-token check that got past the
// signature refuses it for its typ; the refusal's words tell how far it went.
std::string token_of(const jose::SigningKey& key) {
  return key.sign(json::object{{"iss", kIssuer}, {"aud", "passerelle"}, {"sub", "s"}});
}

std::string refusal(oidc::RelyingParty& rp, const std::string& token) {
  try {
    test::run(rp.check_logout_token(token));
  } catch (const HttpError& e) {
    return e.what();
  }
  return "accepted";
}

constexpr const char* kVerified =
    "the logout token is refused: logout token: typ is not logout+jwt";

struct Fixture {
  FakeProvider op;
  std::string public_url = "https://gw.example";
  oidc::RelyingParty rp{config(), op, public_url};
  jose::SigningKey k1 = jose::SigningKey::generate();
  jose::SigningKey k2 = jose::SigningKey::generate();
  Fixture() { op.published = {&k1}; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(relying_party)

BOOST_FIXTURE_TEST_CASE(an_issuer_ending_in_a_slash_is_discovered, Fixture) {
  BOOST_TEST(test::run(rp.discover()));
  BOOST_TEST(op.count("https://op.example/.well-known/openid-configuration") == 1);
  BOOST_TEST(op.count("https://op.example/jwks") == 1);  // keys fetched with discovery
  BOOST_TEST(test::run(rp.discover()));
  BOOST_TEST(op.urls.size() == 2u);  // nothing fetched again while both are held
}

BOOST_FIXTURE_TEST_CASE(a_malformed_token_fetches_nothing, Fixture) {
  BOOST_TEST(refusal(rp, "not.a-token") == "the logout token is refused: malformed token");
  BOOST_TEST(refusal(rp, "garbage") == "the logout token is refused: malformed token");
  BOOST_TEST(op.urls.empty());
}

BOOST_FIXTURE_TEST_CASE(concurrent_callers_share_one_fetch_and_unknown_kids_wait_an_interval,
                        Fixture) {
  BOOST_TEST(test::run(rp.discover()));
  BOOST_TEST(refusal(rp, token_of(k1)) == kVerified);
  op.published = {&k2, &k1};  // the provider rotates its keys
  // Two tokens of the new key at once: one fetch, and both callers get the new keys.
  boost::asio::io_context ioc;
  auto check = [this](std::string token) -> Task<std::string> {
    try {
      co_await rp.check_logout_token(std::move(token));
    } catch (const HttpError& e) {
      co_return e.what();
    }
    co_return "accepted";
  };
  auto a = boost::asio::co_spawn(ioc, check(token_of(k2)), boost::asio::use_future);
  auto b = boost::asio::co_spawn(ioc, check(token_of(k2)), boost::asio::use_future);
  ioc.run();
  BOOST_TEST(a.get() == kVerified);
  BOOST_TEST(b.get() == kVerified);
  BOOST_TEST(op.count("https://op.example/jwks") == 2);  // at start, then once for both
  // Within the interval, another unknown kid is refused without a fetch.
  const auto k3 = jose::SigningKey::generate();
  BOOST_TEST(refusal(rp, token_of(k3)).find("unknown key id") != std::string::npos);
  BOOST_TEST(op.count("https://op.example/jwks") == 2);
}

BOOST_FIXTURE_TEST_CASE(a_failed_refresh_keeps_the_keys_held, Fixture) {
  BOOST_TEST(test::run(rp.discover()));
  op.jwks_fails = true;
  op.published = {&k2};
  BOOST_TEST(refusal(rp, token_of(k2)).find("unknown key id") != std::string::npos);
  BOOST_TEST(op.count("https://op.example/jwks") == 2);  // it was tried
  BOOST_TEST(refusal(rp, token_of(k1)) == kVerified);    // the old key still verifies
}

BOOST_AUTO_TEST_CASE(a_provider_that_names_another_issuer_is_not_used) {
  FakeProvider op;
  std::string public_url = "https://gw.example";
  auto c = config();
  c.issuer = "https://op.example";  // configured without the "/" the provider publishes
  oidc::RelyingParty rp(c, op, public_url);
  BOOST_TEST(!test::run(rp.discover()));
  BOOST_TEST(op.count("https://op.example/jwks") == 0);
  try {
    test::run(rp.authorization_url("s", "n", "c"));
    BOOST_FAIL("no authorization URL without discovery");
  } catch (const HttpError& e) {
    BOOST_TEST(e.status() == 502);
    BOOST_TEST(std::string(e.what()).find("discovery names another issuer") != std::string::npos);
  }
  BOOST_TEST(op.count("https://op.example/.well-known/openid-configuration") ==
             1);  // not again at once
}

BOOST_AUTO_TEST_SUITE_END()
