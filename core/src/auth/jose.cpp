// cjose does the cryptography; this file decides what is acceptable: the algorithm allow-list,
// key type versus algorithm, and kid selection.
#include "auth/jose.hpp"

#include "auth/crypto.hpp"

#include <cjose/cjose.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <stdexcept>

namespace passerelle::jose {

namespace json = boost::json;

namespace {

struct JwkRelease {
  void operator()(cjose_jwk_t* k) const { cjose_jwk_release(k); }
};
using JwkPtr = std::unique_ptr<cjose_jwk_t, JwkRelease>;
struct JwsRelease {
  void operator()(cjose_jws_t* j) const { cjose_jws_release(j); }
};
using JwsPtr = std::unique_ptr<cjose_jws_t, JwsRelease>;

// Unpadded base64url (RFC 7515 §2). cjose 0.6 must never see anything else: Debian's build
// aborts the process on an assertion for input such as "A===" (found by fuzzing), and a
// back-channel logout token reaches this from anyone.
bool is_base64url(std::string_view in) {
  return in.size() % 4 != 1 && std::all_of(in.begin(), in.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

std::optional<std::string> base64url_decode(std::string_view in) {
  if (!is_base64url(in)) return std::nullopt;
  uint8_t* out = nullptr;
  size_t len = 0;
  cjose_err err;
  if (!cjose_base64url_decode(in.data(), in.size(), &out, &len, &err)) return std::nullopt;
  std::string s(reinterpret_cast<char*>(out), len);
  cjose_get_dealloc()(out);
  return s;
}

std::optional<json::object> parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string string_of(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The key type an algorithm needs.
std::optional<cjose_jwk_kty_t> kty_for(const std::string& alg) {
  if (alg == "RS256" || alg == "PS256") return CJOSE_JWK_KTY_RSA;
  if (alg == "ES256") return CJOSE_JWK_KTY_EC;
  return std::nullopt;
}

}  // namespace

std::optional<Token> peek(const std::string& compact) {
  const auto dot1 = compact.find('.');
  const auto dot2 = dot1 == std::string::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string::npos || compact.find('.', dot2 + 1) != std::string::npos)
    return std::nullopt;
  // The signature is decoded by cjose_jws_import in verify(): it must be well-formed too.
  if (!is_base64url(std::string_view(compact).substr(dot2 + 1))) return std::nullopt;
  auto header = base64url_decode(std::string_view(compact).substr(0, dot1));
  auto payload = base64url_decode(std::string_view(compact).substr(dot1 + 1, dot2 - dot1 - 1));
  if (!header || !payload) return std::nullopt;
  auto h = parse_object(*header);
  auto c = parse_object(*payload);
  if (!h || !c) return std::nullopt;
  return Token{std::move(*h), std::move(*c)};
}

struct KeySet::Impl {
  struct Key {
    std::string kid;
    JwkPtr jwk;
  };
  std::vector<Key> keys;
};

KeySet::KeySet() : impl_(std::make_unique<Impl>()) {}
KeySet::~KeySet() = default;
KeySet::KeySet(KeySet&&) noexcept = default;
KeySet& KeySet::operator=(KeySet&&) noexcept = default;

std::optional<KeySet> KeySet::parse(const std::string& text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  const auto* keys = doc->if_contains("keys");
  if (!keys || !keys->is_array()) return std::nullopt;
  KeySet set;
  for (const auto& k : keys->as_array()) {
    if (!k.is_object()) continue;
    const auto& o = k.as_object();
    if (string_of(o, "use") == "enc") continue;
    const std::string kty = string_of(o, "kty");
    if (kty != "RSA" && kty != "EC") continue;
    // cjose decodes these members; see is_base64url.
    static constexpr const char* kEncoded[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi", "x", "y"};
    if (!std::all_of(std::begin(kEncoded), std::end(kEncoded), [&](const char* member) {
          const auto* v = o.if_contains(member);
          if (!v || !v->is_string()) return true;
          return is_base64url({v->as_string().data(), v->as_string().size()});
        }))
      continue;
    const std::string serialized = json::serialize(o);
    cjose_err err;
    JwkPtr jwk(cjose_jwk_import(serialized.c_str(), serialized.size(), &err));
    if (!jwk) continue;
    set.impl_->keys.push_back({string_of(o, "kid"), std::move(jwk)});
  }
  return set;
}

std::size_t KeySet::size() const { return impl_->keys.size(); }

KeySet::Result KeySet::verify(const std::string& compact,
                              const std::vector<std::string>& algorithms) const {
  Result result;
  auto unverified = peek(compact);
  if (!unverified) {
    result.error = "malformed token";
    return result;
  }
  const std::string alg = string_of(unverified->header, "alg");
  const auto kty = kty_for(alg);
  if (!kty || std::find(algorithms.begin(), algorithms.end(), alg) == algorithms.end()) {
    result.error = "algorithm \"" + alg + "\" is not accepted";
    return result;
  }
  const std::string kid = string_of(unverified->header, "kid");
  const cjose_jwk_t* key = nullptr;
  int candidates = 0;
  for (const auto& k : impl_->keys) {
    cjose_err err;
    if (cjose_jwk_get_kty(k.jwk.get(), &err) != *kty) continue;
    if (!kid.empty() ? k.kid == kid : true) {
      key = k.jwk.get();
      ++candidates;
    }
  }
  if (!key || (kid.empty() && candidates != 1)) {
    result.error =
        kid.empty() ? "no single key for a token without kid" : "unknown key id \"" + kid + "\"";
    result.unknown_kid = !kid.empty();
    return result;
  }
  cjose_err err;
  JwsPtr jws(cjose_jws_import(compact.c_str(), compact.size(), &err));
  if (!jws || !cjose_jws_verify(jws.get(), key, &err)) {
    result.error = "bad signature";
    return result;
  }
  result.token = std::move(*unverified);
  return result;
}

SigningKey::~SigningKey() {
  if (jwk_) cjose_jwk_release(static_cast<cjose_jwk_t*>(jwk_));
}

SigningKey::SigningKey(SigningKey&& other) noexcept
    : jwk_(other.jwk_), kid_(std::move(other.kid_)) {
  other.jwk_ = nullptr;
}

SigningKey SigningKey::generate() {
  cjose_err err;
  SigningKey key;
  key.jwk_ = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
  if (!key.jwk_)
    throw std::runtime_error(std::string("cannot create a signing key: ") + err.message);
  key.kid_ = auth::random_token(12);
  if (!cjose_jwk_set_kid(static_cast<cjose_jwk_t*>(key.jwk_), key.kid_.c_str(), key.kid_.size(),
                         &err))
    throw std::runtime_error(std::string("cannot set the key id: ") + err.message);
  return key;
}

SigningKey SigningKey::from_private_json(const std::string& text) {
  cjose_err err;
  SigningKey key;
  key.jwk_ = cjose_jwk_import(text.c_str(), text.size(), &err);
  if (!key.jwk_)
    throw std::runtime_error(std::string("stored signing key is unreadable: ") + err.message);
  const char* kid = cjose_jwk_get_kid(static_cast<cjose_jwk_t*>(key.jwk_), &err);
  key.kid_ = kid ? kid : "";
  return key;
}

std::string SigningKey::to_private_json() const {
  cjose_err err;
  char* out = cjose_jwk_to_json(static_cast<cjose_jwk_t*>(jwk_), true, &err);
  if (!out) throw std::runtime_error(std::string("cannot export the signing key: ") + err.message);
  std::string s(out);
  cjose_get_dealloc()(out);
  return s;
}

json::object SigningKey::public_jwk() const {
  cjose_err err;
  char* out = cjose_jwk_to_json(static_cast<cjose_jwk_t*>(jwk_), false, &err);
  if (!out) throw std::runtime_error(std::string("cannot export the public key: ") + err.message);
  auto o = parse_object(out).value_or(json::object{});
  cjose_get_dealloc()(out);
  o["kid"] = kid_;
  o["use"] = "sig";
  o["alg"] = "ES256";
  return o;
}

std::string SigningKey::sign(const json::object& claims) const {
  cjose_err err;
  std::unique_ptr<cjose_header_t, void (*)(cjose_header_t*)> header(cjose_header_new(&err),
                                                                    cjose_header_release);
  if (!header || !cjose_header_set(header.get(), CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err) ||
      !cjose_header_set(header.get(), CJOSE_HDR_KID, kid_.c_str(), &err) ||
      !cjose_header_set(header.get(), "typ", "JWT", &err))
    throw std::runtime_error(std::string("cannot build the token header: ") + err.message);
  const std::string payload = json::serialize(claims);
  JwsPtr jws(cjose_jws_sign(static_cast<cjose_jwk_t*>(jwk_), header.get(),
                            reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                            &err));
  const char* compact = nullptr;
  if (!jws || !cjose_jws_export(jws.get(), &compact, &err))
    throw std::runtime_error(std::string("cannot sign the token: ") + err.message);
  return compact;
}

}  // namespace passerelle::jose
