// Fuzzes the JOSE parsing of the OpenID relying party: compact JWS headers and claims (peek),
// JWKS documents, signature checks with the algorithm allow-list, and the claim mapping applied
// to what a provider sends.
//
// Input: a JWKS document and a compact token on its last line; without a line break the whole
// input is tried as both.
#include "auth/jose.hpp"
#include "auth/oidc/claims.hpp"

#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace passerelle;

namespace {

// Public keys only (an EC P-256 and an RSA 2048 key): the seed tokens were signed with their
// private halves, which were not kept, so the seeds reach cjose's signature checks.
constexpr std::string_view kFixedJwks =
    R"({"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","use":"sig","alg":"ES256",)"
    R"("x":"RVPPdIMxk9dyX9SQFEk60k0O4kOCSIeDVzglh2fUHII",)"
    R"("y":"IwlMZdJ0ksZ6ifFpMDTQKdh-4FAxRUSTZdBn7fXiLl4"},)"
    R"({"kty":"RSA","kid":"rsa-1","e":"AQAB","n":")"
    "kndg-IlShDWgW7xw0eU5ro7-nKXyAR-6zBEGXWZvSWWY7P_Yt58VPY_F6OyQYSH3ZVBT0wy2PI6G9rCjLATG8q"
    "X0g4Usa0N51V-6iYeRXJbeR0N86HXWO9wfcKOyFRBYO-sisyGZBQiqVEoxGFnQuTFizLuKduIcK74ZeDMoKzyR"
    "WwG-z91SJEIC7ybgwGoZPJRCHepDtrx_tVlk9jLGn8kX4LOYB-Krlxu0ttoybZirucd0tkzmyD0x2VaOuAiXn2"
    "ANu6hZjno6-dEAUr5e_td_YTUCjFO5zeClYdmI3b8GvMCTXersz_lO96oX0AuJnbQQ-Ap2xfNIWqjfSe7khQ"
    R"("}]})";

const std::vector<std::string> kAllAlgorithms{"RS256", "PS256", "ES256"};

const jose::KeySet& fixed_keys() {
  static const jose::KeySet keys = *jose::KeySet::parse(std::string(kFixedJwks));
  FUZZ_CHECK(keys.size() == 2);
  return keys;
}

// A provider config like ProConnect's: a renamed claim and one rule of each kind.
const OidcProviderConfig& provider() {
  static const OidcProviderConfig config = [] {
    OidcProviderConfig c;
    c.name = "proconnect";
    c.claims = {{"family_name", "usual_name"}};
    c.roles = {{"agent", "angers.fr", "", "", ""},
               {"elu", "", "214900", "", ""},
               {"advisor", "", "", "groups", "conseil"}};
    c.default_roles = {"agent"};
    return c;
  }();
  return config;
}

std::string string_of(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

void check_verified(const jose::KeySet::Result& result, const std::vector<std::string>& allowed,
                    const std::optional<jose::Token>& peeked) {
  if (!result.token) {
    FUZZ_CHECK(!result.error.empty());
    return;
  }
  FUZZ_CHECK(result.error.empty() && !result.unknown_kid);
  // A verified token is one peek() reads the same, signed with an allowed algorithm.
  FUZZ_CHECK(peeked && peeked->header == result.token->header &&
             peeked->claims == result.token->claims);
  const std::string alg = string_of(result.token->header, "alg");
  FUZZ_CHECK(std::find(allowed.begin(), allowed.end(), alg) != allowed.end());
}

void check_profile(const FederatedProfile& p) {
  FUZZ_CHECK(p.siret.empty() || p.siret.size() == 14);
  FUZZ_CHECK(p.commune_insee.empty() || p.commune_insee.size() == 5);
  for (std::size_t i = 0; i < p.roles.size(); ++i)
    FUZZ_CHECK(std::count(p.roles.begin(), p.roles.end(), p.roles[i]) == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.rfind('\n');
  const std::string jwks = newline == std::string::npos ? input : input.substr(0, newline);
  const std::string token = newline == std::string::npos ? input : input.substr(newline + 1);

  const auto peeked = jose::peek(token);
  if (peeked) check_profile(oidc::map_claims(provider(), peeked->claims));

  check_verified(fixed_keys().verify(token, kAllAlgorithms), kAllAlgorithms, peeked);
  const std::vector<std::string> es256_only{"ES256"};
  check_verified(fixed_keys().verify(token, es256_only), es256_only, peeked);

  if (auto keys = jose::KeySet::parse(jwks)) {
    check_verified(keys->verify(token, kAllAlgorithms), kAllAlgorithms, peeked);
  }
  return 0;
}
