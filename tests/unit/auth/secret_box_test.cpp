// Secrets at rest: sealing bound to its use, the key file (created 0600, refused when malformed
// or readable by others), and the signing key kept sealed in the store.
#include "auth/secret_box.hpp"
#include "auth/identity_tokens.hpp"
#include "config/config.hpp"
#include "store/core_schema.hpp"
#include "store/sqlite_store.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

using namespace passerelle;
using passerelle::test::run;
using passerelle::test::TempDir;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(secrets_at_rest)

BOOST_AUTO_TEST_CASE(sealed_values_open_only_with_their_key_and_context) {
  const auto box = SecretBox::from_raw_key(std::string(32, 'a'));
  const auto other = SecretBox::from_raw_key(std::string(32, 'b'));
  const std::string sealed = box.seal("refresh-token-value", "sessions.refresh_token");
  BOOST_TEST(sealed.find("refresh") == std::string::npos);
  BOOST_TEST(box.open(sealed, "sessions.refresh_token").value_or("") == "refresh-token-value");
  BOOST_TEST(!box.open(sealed, "sessions.id_token").has_value());  // moved to another column
  BOOST_TEST(!other.open(sealed, "sessions.refresh_token").has_value());
  std::string tampered = sealed;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  BOOST_TEST(!box.open(tampered, "sessions.refresh_token").has_value());
  BOOST_TEST(!box.open("", "x").has_value());
  BOOST_TEST(box.seal("same", "x") != box.seal("same", "x"));  // random nonces
  const std::string stored = box.seal_for_store("v", "c");
  BOOST_TEST(SecretBox::is_sealed(stored));
  BOOST_TEST(!SecretBox::is_sealed("{\"kty\":\"EC\"}"));
  BOOST_TEST(box.open_from_store(stored, "c").value_or("") == "v");
}

BOOST_AUTO_TEST_CASE(the_key_file_is_created_with_mode_0600_and_kept) {
  TempDir dir;
  const std::string path = dir.path() + "/var/secret.key";
  const auto first = SecretBox::load_or_create(path);
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_TEST(first.origin() == path);
  const auto again = SecretBox::load_or_create(path);
  BOOST_TEST(again.open(first.seal("x", "c"), "c").value_or("") == "x");  // the same key
}

BOOST_AUTO_TEST_CASE(two_instances_creating_the_key_file_at_once_both_get_the_key) {
  // The second one must never read a file the first has created but not written yet.
  for (int round = 0; round < 300; ++round) {
    TempDir dir;
    const std::string path = dir.path() + "/secret.key";
    std::atomic<int> ready{0};
    std::string errors[2];
    std::optional<SecretBox> boxes[2];
    auto start = [&](int i) {
      ++ready;
      while (ready.load() < 2) {
      }
      try {
        boxes[i].emplace(SecretBox::load_or_create(path));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    };
    std::thread other(start, 1);
    start(0);
    other.join();
    BOOST_TEST_REQUIRE(errors[0] == "", "round " << round);
    BOOST_TEST_REQUIRE(errors[1] == "", "round " << round);
    BOOST_TEST_REQUIRE(boxes[1]->open(boxes[0]->seal("x", "c"), "c").value_or("") == "x");
  }
}

BOOST_AUTO_TEST_CASE(a_bad_key_file_is_refused_with_its_path) {
  TempDir dir;
  const std::string path = dir.write("secret.key", "not a key\n");
  ::chmod(path.c_str(), 0600);
  BOOST_TEST(error_of([&] { SecretBox::load_or_create(path); }) ==
             "secret key file " + path +
                 ": is not a key (expected 32 bytes in base64url, 43 characters)");
  const std::string open = dir.write("open.key", std::string(43, 'A') + "\n");
  ::chmod(open.c_str(), 0644);
  BOOST_TEST(error_of([&] { SecretBox::load_or_create(open); }) ==
             "secret key file " + open + ": group or others may read it: chmod 600 it");
  AuthConfig config;
  config.secret_key = "short";
  BOOST_TEST(error_of([&] { SecretBox::from_config(config); }) ==
             "auth.secret_key is not a key (expected 32 bytes in base64url, 43 characters)");
  config.secret_key = std::string(43, 'A');
  BOOST_TEST(SecretBox::from_config(config).origin() == "auth.secret_key");
}

BOOST_AUTO_TEST_CASE(the_private_signing_key_is_sealed_in_the_store) {
  TempDir dir;
  SqliteStore store(dir.path() + "/db.sqlite", 1);
  run(store.migrate("core", core_migrations()));
  const auto box = SecretBox::from_raw_key(std::string(32, 'k'));
  const std::string issuer = "https://passerelle.example";
  IdentityTokens tokens(issuer);
  run(tokens.load(store, box));
  const auto stored = std::get<std::string>(
      run(store.query({"SELECT private_jwk FROM signing_keys", {}})).rows.at(0).at(0));
  BOOST_TEST(stored.rfind("enc1:", 0) == 0u);
  BOOST_TEST(stored.find("\"d\"") == std::string::npos);
  BOOST_TEST(stored.find("kty") == std::string::npos);
  BOOST_TEST(stored.find("PRIVATE KEY") == std::string::npos);

  // Another key (a copied database, a replaced key file) cannot open it: a clear refusal.
  IdentityTokens stranger(issuer);
  const auto wrong = SecretBox::from_raw_key(std::string(32, 'w'));
  BOOST_TEST(
      error_of([&] {
        run(stranger.load(store, wrong));
      }).find("the signing key in the store does not open with the secret key of a test key") ==
      0u);
  IdentityTokens again(issuer);
  run(again.load(store, box));
  BOOST_TEST(boost::json::serialize(again.jwks()) == boost::json::serialize(tokens.jwks()));
}

BOOST_AUTO_TEST_CASE(a_plaintext_signing_key_of_an_older_version_is_sealed_at_load) {
  TempDir dir;
  SqliteStore store(dir.path() + "/db.sqlite", 1);
  run(store.migrate("core", core_migrations()));
  auto key = jose::SigningKey::generate();
  run(store.query({"INSERT INTO signing_keys(kid, private_jwk) VALUES (?1, ?2)",
                   {key.kid(), key.to_private_json()}}));
  const auto box = SecretBox::from_raw_key(std::string(32, 'k'));
  IdentityTokens tokens("https://passerelle.example");
  run(tokens.load(store, box));
  BOOST_TEST(tokens.jwks().at("keys").as_array().at(0).at("kid").as_string() ==
             key.kid());  // the same key
  const auto stored = std::get<std::string>(
      run(store.query({"SELECT private_jwk FROM signing_keys", {}})).rows.at(0).at(0));
  BOOST_TEST(stored.rfind("enc1:", 0) == 0u);
  BOOST_TEST(stored.find("\"d\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_default_key_file_sits_next_to_the_store) {
  TempDir dir;
  const std::string file =
      dir.write("p.yaml", "tls:\n  certificate: c\n  private_key: k\nstore:\n  sqlite: var/x.db\n");
  const Config c = load_config(file);
  BOOST_TEST(c.auth.secret_key_file == dir.path() + "/var/secret.key");
  const std::string both = dir.write(
      "both.yaml",
      "tls:\n  certificate: c\n  private_key: k\nauth:\n  secret_key: x\n  secret_key_file: y\n");
  BOOST_TEST(error_of([&] { load_config(both); }) ==
             both + ":5:15: secret_key: give secret_key or secret_key_file, not both");
}

BOOST_AUTO_TEST_SUITE_END()
