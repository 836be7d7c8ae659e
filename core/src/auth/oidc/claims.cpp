// Claim mapping and role rules. ProConnect's usual_name is mapped by config to family_name.
#include "auth/oidc/claims.hpp"

#include <algorithm>
#include <cctype>

namespace passerelle::oidc {

namespace json = boost::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A claim as text: strings as they are, numbers printed (SIRETs sometimes come as numbers).
std::string claim_text(const json::object& claims, const std::string& name) {
  const auto* v = claims.if_contains(name);
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  return {};
}

bool claim_matches(const json::object& claims, const std::string& name,
                   const std::string& expected) {
  const auto* v = claims.if_contains(name);
  if (!v) return false;
  if (v->is_array())
    return std::any_of(v->as_array().begin(), v->as_array().end(), [&](const json::value& x) {
      return x.is_string() && x.as_string() == expected;
    });
  return claim_text(claims, name) == expected;
}

}  // namespace

FederatedProfile map_claims(const OidcProviderConfig& config, const json::object& claims) {
  auto field = [&](const std::string& identity_field, const std::string& default_claim) {
    auto it = config.claims.find(identity_field);
    return claim_text(claims, it != config.claims.end() ? it->second : default_claim);
  };
  FederatedProfile p;
  p.email = field("email", "email");
  p.siret = field("siret", "siret");
  p.commune_insee = field("commune_insee", "commune_insee");
  if (config.claims.count("display_name")) p.display_name = field("display_name", "");
  if (p.display_name.empty()) {
    const std::string given = field("given_name", "given_name");
    const std::string family = field("family_name", "family_name");
    p.display_name = given.empty() ? family : family.empty() ? given : given + " " + family;
  }
  if (p.display_name.empty()) p.display_name = p.email;
  // Only well-formed values reach the account: the provider is trusted, not infallible.
  if (p.siret.size() != 14 || !std::all_of(p.siret.begin(), p.siret.end(),
                                           [](unsigned char ch) { return std::isdigit(ch); }))
    p.siret.clear();
  if (p.commune_insee.size() != 5) p.commune_insee.clear();

  auto add = [&](const std::string& role) {
    if (std::find(p.roles.begin(), p.roles.end(), role) == p.roles.end()) p.roles.push_back(role);
  };
  const std::string email = lower(p.email);
  // A domain rule needs a single-@ address the provider did not say is unverified (Keycloak
  // sends email_verified=false for self-registered addresses; ProConnect sends none).
  const auto* verified = claims.if_contains("email_verified");
  const bool email_trusted = std::count(email.begin(), email.end(), '@') == 1 &&
                             !(verified && verified->is_bool() && !verified->as_bool());
  // Taking an invitation needs more: the provider's word that the address is the user's.
  const bool said_verified =
      verified && ((verified->is_bool() && verified->as_bool()) ||
                   (verified->is_string() && verified->as_string() == "true"));
  p.email_verified = std::count(email.begin(), email.end(), '@') == 1 &&
                     (said_verified || (config.verified_emails && !verified));
  for (const auto& rule : config.roles) {
    bool match = false;
    if (!rule.email_domain.empty()) {
      const std::string suffix = "@" + lower(rule.email_domain);
      match = email_trusted && email.size() > suffix.size() &&
              email.compare(email.size() - suffix.size(), suffix.size(), suffix) == 0;
    } else if (!rule.siret_prefix.empty()) {
      match = !p.siret.empty() && p.siret.rfind(rule.siret_prefix, 0) == 0;
    } else if (!rule.claim.empty()) {
      match = claim_matches(claims, rule.claim, rule.equals);
    }
    if (match) add(rule.role);
  }
  for (const auto& role : config.default_roles) add(role);
  return p;
}

}  // namespace passerelle::oidc
