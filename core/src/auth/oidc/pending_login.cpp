// JSON inside XChaCha20-Poly1305, bound to its use by the associated data.
#include "auth/oidc/pending_login.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace passerelle::oidc {

namespace json = boost::json;

namespace {
constexpr const char* kContext = "oidc.pending_login";
}  // namespace

std::string seal_pending_login(const PendingLogin& p, const SecretBox& secrets) {
  const json::object o{{"p", p.provider}, {"s", p.state}, {"n", p.nonce},
                       {"v", p.verifier}, {"x", p.next},  {"e", p.expires_at}};
  return secrets.seal(json::serialize(o), kContext);
}

std::optional<PendingLogin> open_pending_login(const std::string& cookie,
                                               const SecretBox& secrets) {
  if (cookie.empty() || cookie.size() > 8192) return std::nullopt;
  auto text = secrets.open(cookie, kContext);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  const auto* o = ec ? nullptr : v.if_object();
  if (!o) return std::nullopt;
  auto field = [&](const char* k) -> const json::string* {
    const auto* x = o->if_contains(k);
    return x && x->is_string() ? &x->as_string() : nullptr;
  };
  const auto* expiry = o->if_contains("e");
  if (!field("p") || !field("s") || !field("n") || !field("v") || !field("x") || !expiry ||
      !expiry->is_int64())
    return std::nullopt;
  return PendingLogin{std::string(*field("p")), std::string(*field("s")), std::string(*field("n")),
                      std::string(*field("v")), std::string(*field("x")), expiry->as_int64()};
}

}  // namespace passerelle::oidc
