// Token signatures: accepted algorithms only, key types matching, unknown and rotated keys;
// and the gateway's own identity tokens verified against its JWKS.
#include "auth/jose.hpp"
#include "auth/identity_tokens.hpp"
#include "auth/secret_box.hpp"
#include "store/core_schema.hpp"
#include "store/sqlite_store.hpp"
#include "support/run.hpp"

#include <cjose/cjose.h>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

using namespace passerelle;
namespace json = boost::json;

namespace {

const std::vector<std::string> kAll{"RS256", "PS256", "ES256"};

std::string jwks_of(const std::vector<json::object>& keys) {
  json::array a;
  for (const auto& k : keys) a.push_back(k);
  return json::serialize(json::object{{"keys", std::move(a)}});
}

// An RSA key made with cjose, signing with the given algorithm.
struct RsaKey {
  cjose_jwk_t* jwk;
  std::string kid;
  explicit RsaKey(std::string id) : kid(std::move(id)) {
    cjose_err err;
    static const uint8_t e[] = {1, 0, 1};
    jwk = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    cjose_jwk_set_kid(jwk, kid.c_str(), kid.size(), &err);
  }
  ~RsaKey() { cjose_jwk_release(jwk); }
  json::object public_jwk() const {
    cjose_err err;
    char* s = cjose_jwk_to_json(jwk, false, &err);
    json::object o = json::parse(s).as_object();
    cjose_get_dealloc()(s);
    return o;
  }
  std::string sign(const char* alg, const json::object& claims,
                   const std::string& header_kid) const {
    cjose_err err;
    cjose_header_t* h = cjose_header_new(&err);
    cjose_header_set(h, CJOSE_HDR_ALG, alg, &err);
    if (!header_kid.empty()) cjose_header_set(h, CJOSE_HDR_KID, header_kid.c_str(), &err);
    const std::string payload = json::serialize(claims);
    cjose_jws_t* jws = cjose_jws_sign(jwk, h, reinterpret_cast<const uint8_t*>(payload.data()),
                                      payload.size(), &err);
    const char* out = nullptr;
    cjose_jws_export(jws, &out, &err);
    std::string compact = out;
    cjose_jws_release(jws);
    cjose_header_release(h);
    return compact;
  }
};

std::string b64(const std::string& s) {
  cjose_err err;
  char* out = nullptr;
  size_t len = 0;
  cjose_base64url_encode(reinterpret_cast<const uint8_t*>(s.data()), s.size(), &out, &len, &err);
  std::string r(out, len);
  cjose_get_dealloc()(out);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(jose_tokens)

BOOST_AUTO_TEST_CASE(es256_round_trip_and_tampering) {
  auto key = jose::SigningKey::generate();
  auto set = jose::KeySet::parse(jwks_of({key.public_jwk()}));
  BOOST_TEST_REQUIRE(set.has_value());
  const std::string token = key.sign({{"sub", "u-1"}, {"aud", "x"}});
  auto r = set->verify(token, kAll);
  BOOST_TEST_REQUIRE(r.token.has_value(), r.error);
  BOOST_TEST(r.token->claims.at("sub").as_string() == "u-1");
  BOOST_TEST(r.token->header.at("alg").as_string() == "ES256");

  std::string tampered = token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  BOOST_TEST(set->verify(tampered, kAll).error == "bad signature");
  // Same signature, other claims.
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  const std::string forged =
      token.substr(0, dot1 + 1) + b64(R"({"sub":"admin","aud":"x"})") + token.substr(dot2);
  BOOST_TEST(set->verify(forged, kAll).error == "bad signature");
  BOOST_TEST(set->verify("not.a.token", kAll).error == "malformed token");
}

BOOST_AUTO_TEST_CASE(none_and_hmac_are_refused) {
  auto key = jose::SigningKey::generate();
  auto set = jose::KeySet::parse(jwks_of({key.public_jwk()}));
  const std::string payload = b64(R"({"sub":"u-1"})");
  BOOST_TEST(set->verify(b64(R"({"alg":"none"})") + "." + payload + ".", kAll).error ==
             "algorithm \"none\" is not accepted");
  BOOST_TEST(
      set->verify(b64(R"({"alg":"HS256","kid":")" + key.kid() + "\"}") + "." + payload + ".c2ln",
                  kAll)
          .error == "algorithm \"HS256\" is not accepted");
  // ES256 is a good algorithm, but not on this provider's list.
  BOOST_TEST(set->verify(key.sign({{"sub", "u-1"}}), {"RS256"}).error ==
             "algorithm \"ES256\" is not accepted");
}

BOOST_AUTO_TEST_CASE(rsa_algorithms_unknown_kid_and_rotation) {
  RsaKey old_key("k1"), new_key("k2");
  auto set = jose::KeySet::parse(jwks_of({old_key.public_jwk()}));
  BOOST_TEST_REQUIRE(set.has_value());
  for (const char* alg : {"RS256", "PS256"}) {
    auto r = set->verify(old_key.sign(alg, {{"sub", "a"}}, "k1"), kAll);
    BOOST_TEST(r.token.has_value(), alg << ": " << r.error);
  }
  auto r = set->verify(new_key.sign("RS256", {{"sub", "a"}}, "k2"), kAll);
  BOOST_TEST(!r.token.has_value());
  BOOST_TEST(r.unknown_kid);
  BOOST_TEST(r.error == "unknown key id \"k2\"");
  // A token claiming the old kid but signed by the new key.
  BOOST_TEST(set->verify(new_key.sign("RS256", {{"sub", "a"}}, "k1"), kAll).error ==
             "bad signature");
  // After the provider rotated: the refetched set holds both keys.
  auto rotated = jose::KeySet::parse(jwks_of({new_key.public_jwk(), old_key.public_jwk()}));
  BOOST_TEST(rotated->verify(new_key.sign("RS256", {{"sub", "a"}}, "k2"), kAll).token.has_value());
  // A kid of an EC key cannot verify an RS256 token.
  auto ec = jose::SigningKey::generate();
  auto mixed = jose::KeySet::parse(jwks_of({ec.public_jwk()}));
  BOOST_TEST(
      !mixed->verify(old_key.sign("RS256", {{"sub", "a"}}, ec.kid()), kAll).token.has_value());
}

BOOST_AUTO_TEST_CASE(identity_tokens_are_signed_again_once_half_their_life_is_gone) {
  SqliteStore store(":memory:", 1);
  test::run(store.migrate("core", core_migrations()));
  const std::string issuer = "https://passerelle.example";
  std::int64_t now = 1'800'000'000;
  IdentityTokens tokens(issuer, [&now] { return now; });
  test::run(tokens.load(store, SecretBox::from_raw_key(std::string(32, 'k'))));
  Identity who;
  who.subject = "u-7";
  who.roles = {"elu"};
  who.commune_insee = "49007";
  const std::string first = tokens.mint(who, "urbanisme");
  now += 30;  // half of 60 s: the same token
  BOOST_TEST(tokens.mint(who, "urbanisme") == first);
  // Any claim that differs is another token: the audience, the roles, the life asked.
  BOOST_TEST(tokens.mint(who, "cadastre") != first);
  BOOST_TEST(tokens.mint(who, "urbanisme", std::chrono::seconds(120)) != first);
  Identity promoted = who;
  promoted.roles = {"elu", "referent"};
  BOOST_TEST(tokens.mint(promoted, "urbanisme") != first);
  now += 1;  // past half its life: signed again, with times of now
  const std::string renewed = tokens.mint(who, "urbanisme");
  BOOST_TEST(renewed != first);
  auto set = jose::KeySet::parse(json::serialize(tokens.jwks()));
  auto r = set->verify(renewed, {"ES256"});
  BOOST_TEST_REQUIRE(r.token.has_value(), r.error);
  BOOST_TEST(r.token->claims.at("iat").as_int64() == now);
  BOOST_TEST(r.token->claims.at("exp").as_int64() == now + 60);
  // A clock set back does not hand out a token from its future.
  now -= 10;
  BOOST_TEST(tokens.mint(who, "urbanisme") != renewed);
}

BOOST_AUTO_TEST_CASE(identity_tokens_verify_against_the_published_jwks) {
  SqliteStore store(":memory:", 1);
  test::run(store.migrate("core", core_migrations()));
  const std::string issuer = "https://passerelle.example";
  IdentityTokens tokens(issuer);
  const SecretBox secrets = SecretBox::from_raw_key(std::string(32, 'k'));
  test::run(tokens.load(store, secrets));
  Identity who;
  who.subject = "u-7";
  who.display_name = "Marie Dupont";
  who.roles = {"elu"};
  who.commune_insee = "49007";
  const std::string jwt = tokens.mint(who, "conseils-upstream");
  auto set = jose::KeySet::parse(json::serialize(tokens.jwks()));
  auto r = set->verify(jwt, {"ES256"});
  BOOST_TEST_REQUIRE(r.token.has_value(), r.error);
  const auto& c = r.token->claims;
  BOOST_TEST(c.at("iss").as_string() == issuer);
  BOOST_TEST(c.at("aud").as_string() == "conseils-upstream");
  BOOST_TEST(c.at("sub").as_string() == "u-7");
  BOOST_TEST(c.at("commune_insee").as_string() == "49007");
  BOOST_TEST(c.at("exp").as_int64() - c.at("iat").as_int64() == 60);
  // The key is kept: a restart signs with the same one.
  IdentityTokens again(issuer);
  test::run(again.load(store, secrets));
  BOOST_TEST(json::serialize(again.jwks()) == json::serialize(tokens.jwks()));
}

// Found by the jose fuzz target: Debian's cjose 0.6 aborts the process on padded or truncated
// base64url such as "A===", which anyone can send as a back-channel logout token.
BOOST_AUTO_TEST_CASE(malformed_base64url_is_refused_before_cjose) {
  auto key = jose::SigningKey::generate();
  auto set = jose::KeySet::parse(jwks_of({key.public_jwk()}));
  BOOST_TEST_REQUIRE(set.has_value());
  const std::string token = key.sign({{"sub", "u-1"}});
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  for (const std::string bad : {"A===", "AAAAA=", "AAAAA", "AB==", "A+/b"}) {
    BOOST_TEST(!jose::peek(bad + token.substr(dot1)).has_value(), bad);
    const std::string bad_payload = token.substr(0, dot1 + 1) + bad + token.substr(dot2);
    BOOST_TEST(set->verify(bad_payload, kAll).error == "malformed token", bad);
    BOOST_TEST(set->verify(token.substr(0, dot2 + 1) + bad, kAll).error == "malformed token", bad);
  }
  // A key whose coordinates are not base64url is skipped; the others are kept.
  json::object broken = key.public_jwk();
  broken["x"] = "A===";
  broken["kid"] = "broken";
  auto partial = jose::KeySet::parse(jwks_of({broken, key.public_jwk()}));
  BOOST_TEST_REQUIRE(partial.has_value());
  BOOST_TEST(partial->size() == 1u);
  BOOST_TEST(partial->verify(token, kAll).token.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
