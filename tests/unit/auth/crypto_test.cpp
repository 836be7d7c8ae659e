// Random tokens, hashes, constant-time comparison, Argon2id round trip; forms, cookies, escaping.
#include "auth/crypto.hpp"
#include "auth/auth_routes.hpp"
#include "http/form.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

using namespace passerelle;

BOOST_AUTO_TEST_SUITE(auth_helpers)

BOOST_AUTO_TEST_CASE(random_tokens_are_256_bits_base64url_and_distinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = auth::random_token(32);
    BOOST_TEST(t.size() == 43u);
    BOOST_TEST(
        t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
    seen.insert(t);
  }
  BOOST_TEST(seen.size() == 100u);
}

BOOST_AUTO_TEST_CASE(known_digests) {
  BOOST_TEST(auth::sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 7636, appendix B.
  BOOST_TEST(auth::sha256_base64url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
             "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  BOOST_TEST(auth::base64url("\xfb\xff") == "-_8");
  BOOST_TEST(auth::base64("\xfb\xff") == "+/8=");  // MIME's alphabet, padded
  BOOST_TEST(auth::base64("\xc3\xa9t\xc3\xa9") == "w6l0w6k=");
}

BOOST_AUTO_TEST_CASE(constant_time_equality) {
  BOOST_TEST(auth::equal_constant_time("abc", "abc"));
  BOOST_TEST(!auth::equal_constant_time("abc", "abd"));
  BOOST_TEST(!auth::equal_constant_time("abc", "abcd"));
}

BOOST_AUTO_TEST_CASE(argon2id_round_trip) {
  const std::string hash = auth::hash_password("correct horse battery");
  BOOST_TEST(hash.rfind("$argon2id$", 0) == 0u);
  BOOST_TEST(auth::verify_password(hash, "correct horse battery"));
  BOOST_TEST(!auth::verify_password(hash, "correct horse batterie"));
  BOOST_TEST(auth::hash_password("correct horse battery") != hash);  // salted
}

BOOST_AUTO_TEST_CASE(forms_and_cookies) {
  auto f = parse_form("username=marie&password=a+b%26c&next=%2Fapi%2Fme&empty");
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST((*f)["username"] == "marie");
  BOOST_TEST((*f)["password"] == "a b&c");
  BOOST_TEST((*f)["next"] == "/api/me");
  BOOST_TEST(f->count("empty") == 1u);
  BOOST_TEST(cookie_value("a=1; __Host-passerelle=xyz; b=2", "__Host-passerelle") == "xyz");
  BOOST_TEST(cookie_value("x__Host-passerelle=no", "__Host-passerelle") == "");
  BOOST_TEST(html_escape("<a href=\"x\">'&'</a>") ==
             "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

BOOST_AUTO_TEST_CASE(only_local_paths_after_login) {
  BOOST_TEST(is_safe_next("/"));
  BOOST_TEST(is_safe_next("/api/me?x=1"));
  BOOST_TEST(!is_safe_next(""));
  BOOST_TEST(!is_safe_next("//evil.example"));
  BOOST_TEST(!is_safe_next("/\\evil.example"));
  BOOST_TEST(!is_safe_next("https://evil.example"));
  BOOST_TEST(!is_safe_next("/x\r\nSet-Cookie: a=b"));
}

BOOST_AUTO_TEST_SUITE_END()
