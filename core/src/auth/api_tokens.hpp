// Personal API tokens of operators ("Authorization: Bearer pst_..."), stored hashed, revocable.
#pragma once

#include "passerelle/task.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

class SqliteStore;

struct ApiTokenInfo {
  std::int64_t id = 0;
  std::string username;
  std::string name;
  std::string created_at;
  bool revoked = false;
};

class ApiTokens {
 public:
  explicit ApiTokens(SqliteStore& store) : store_(store) {}

  /// A new token for an operator account; the clear value is returned once and never stored.
  Task<std::string> create(std::string username, std::string name);
  Task<std::vector<ApiTokenInfo>> list();
  Task<bool> revoke(std::int64_t id);
  /// The user id owning a live token, for an enabled account.
  Task<std::optional<std::int64_t>> resolve(std::string token);

 private:
  SqliteStore& store_;
};

}  // namespace passerelle
