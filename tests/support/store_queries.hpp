// Helpers of the store's tests: one scalar read, and the error a statement raises.
#pragma once

#include "passerelle/host.hpp"
#include "support/run.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace passerelle::test {

/// The integer in the first column of the first row of `sql`.
inline std::int64_t scalar(Database& db, const std::string& sql,
                           std::vector<SqlValue> params = {}) {
  Statement st{sql, std::move(params)};
  return std::get<std::int64_t>(run(db.query(std::move(st))).rows.at(0).at(0));
}

/// The message of the error `sql` raises through `db`, or "" when it runs.
inline std::string refusal(Database& db, const std::string& sql) {
  try {
    run(db.query({sql, {}}));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace passerelle::test
