// Personal API tokens of operators ("Authorization: Bearer pst_..."), stored hashed, revocable.
#pragma once

#include "passerelle/host.hpp"
#include "passerelle/task.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

class CallerCache;

struct ApiTokenInfo {
  std::int64_t id = 0;
  std::string username;
  std::string name;
  std::string created_at;
  bool revoked = false;
};

/// A live token as authentication sees it.
struct ResolvedToken {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
};

class ApiTokens {
 public:
  /// `cache` (optional) must outlive this object; a revoked token is forgotten by it at once.
  explicit ApiTokens(Database& store, CallerCache* cache = nullptr)
      : store_(store), cache_(cache) {}

  /// A new token for an operator account; the clear value is returned once and never stored.
  Task<std::string> create(std::string username, std::string name);
  Task<std::vector<ApiTokenInfo>> list();
  Task<bool> revoke(std::int64_t id);
  /// A live token of an enabled account.
  Task<std::optional<ResolvedToken>> resolve(std::string token);

  /// Whether a bearer value has the shape of a token (else: anonymous, no lookup).
  static bool well_formed(const std::string& token) {
    return token.rfind("pst_", 0) == 0 && token.size() == 47;
  }

 private:
  Database& store_;
  CallerCache* cache_;
};

}  // namespace passerelle
