// The store: queries on its own pool, all-or-nothing transactions, idempotent migrations.
#include "store/sqlite_store.hpp"
#include "support/temp_dir.hpp"

#include "support/run.hpp"
#include <boost/test/unit_test.hpp>

using namespace passerelle;
using passerelle::test::TempDir;

using passerelle::test::run;

namespace {
// The integer in the first column of the first row of `sql`.
std::int64_t scalar(SqliteStore& store, const std::string& sql) {
  return std::get<std::int64_t>(run(store.query({sql, {}})).rows.at(0).at(0));
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sqlite_store)

BOOST_AUTO_TEST_CASE(query_binds_and_returns_typed_values) {
  TempDir dir;
  SqliteStore store(dir.path() + "/sub/db.sqlite", 2);
  run(store.query({"CREATE TABLE t(i INTEGER, r REAL, s TEXT, n TEXT)", {}}));
  auto ins = run(store.query({"INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
                              {std::int64_t{7}, 1.5, std::string("héllo"), nullptr}}));
  BOOST_TEST(ins.changes == 1);
  auto rows = run(store.query({"SELECT i, r, s, n FROM t", {}}));
  BOOST_TEST((rows.columns == std::vector<std::string>{"i", "r", "s", "n"}));
  BOOST_TEST_REQUIRE(rows.rows.size() == 1u);
  BOOST_TEST(std::get<std::int64_t>(rows.rows[0][0]) == 7);
  BOOST_TEST(std::get<double>(rows.rows[0][1]) == 1.5);
  BOOST_TEST(std::get<std::string>(rows.rows[0][2]) == "héllo");
  BOOST_TEST(std::holds_alternative<std::nullptr_t>(rows.rows[0][3]));
}

BOOST_AUTO_TEST_CASE(errors_throw_with_the_reason) {
  SqliteStore store(":memory:", 1);
  BOOST_CHECK_EXCEPTION(run(store.query({"SELEKT 1", {}})), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find("syntax error") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(transaction_is_all_or_nothing) {
  TempDir dir;
  SqliteStore store(dir.path() + "/db.sqlite", 2);
  run(store.query({"CREATE TABLE t(v INTEGER NOT NULL)", {}}));
  std::vector<Statement> bad{{"INSERT INTO t VALUES (1)", {}}, {"INSERT INTO t VALUES (NULL)", {}}};
  BOOST_CHECK_THROW(run(store.transaction(std::move(bad))), std::runtime_error);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM t") == 0);
  std::vector<Statement> good{{"INSERT INTO t VALUES (1)", {}}, {"INSERT INTO t VALUES (2)", {}}};
  run(store.transaction(std::move(good)));
  BOOST_TEST(scalar(store, "SELECT count(*) FROM t") == 2);
}

BOOST_AUTO_TEST_CASE(migrations_apply_once_and_survive_a_restart) {
  TempDir dir;
  const std::string path = dir.path() + "/db.sqlite";
  std::vector<Migration> ms{{1, "CREATE TABLE a(x); CREATE TABLE b(y);"}, {2, "ALTER TABLE a ADD z;"}};
  {
    SqliteStore store(path, 1);
    BOOST_TEST(run(store.migrate("plugin:x", ms)) == 2);
    BOOST_TEST(run(store.migrate("plugin:x", ms)) == 0);
    run(store.query({"INSERT INTO a(x, z) VALUES (1, 2)", {}}));
  }
  SqliteStore reopened(path, 1);
  ms.push_back({3, "CREATE TABLE c(w);"});
  BOOST_TEST(run(reopened.migrate("plugin:x", ms)) == 1);
  BOOST_TEST(scalar(reopened, "SELECT z FROM a") == 2);
}

BOOST_AUTO_TEST_CASE(failed_migration_leaves_nothing_behind) {
  SqliteStore store(":memory:", 1);
  std::vector<Migration> ms{{1, "CREATE TABLE a(x); CREATE TABLE a(x);"}};
  BOOST_CHECK_THROW(run(store.migrate("p", ms)), std::runtime_error);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM sqlite_master WHERE name='a'") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
