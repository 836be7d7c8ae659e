// The store: queries on its own pool, all-or-nothing transactions, idempotent migrations, one
// text per dialect, and plugins confined to their own tables.
#include "store/sqlite_store.hpp"
#include "store/core_schema.hpp"
#include "store/table_guard.hpp"
#include "support/temp_dir.hpp"

#include <sqlite3.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include "support/run.hpp"
#include "support/store_queries.hpp"

using namespace passerelle;
using passerelle::test::TempDir;

using passerelle::test::refusal;
using passerelle::test::run;
using passerelle::test::scalar;

namespace {
// A store with the core's kind of tables and one plugin, "notes", with a table of its own.
struct Confined {
  TempDir dir;
  SqliteStore store{dir.path() + "/db.sqlite", 2};
  std::unique_ptr<PluginStore> notes = store.for_plugin("notes");

  Confined() {
    run(store.migrate("core", {{1,
                                "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                " password_hash TEXT);"
                                "INSERT INTO users (password_hash) VALUES ('secret');"}}));
    BOOST_TEST(run(notes->migrate({{1,
                                    "CREATE TABLE notes_items (id INTEGER PRIMARY KEY,"
                                    " body TEXT NOT NULL);"
                                    "CREATE INDEX notes_items_body ON notes_items (body);"}})) ==
               1);
  }
};
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
  std::vector<Migration> ms{{1, "CREATE TABLE a(x); CREATE TABLE b(y);"},
                            {2, "ALTER TABLE a ADD z;"}};
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

BOOST_AUTO_TEST_CASE(a_migration_may_give_one_text_per_dialect) {
  SqliteStore store(":memory:", 1);
  Migration m{1, "CREATE TABLE portable (x INTEGER)", {}};
  m.sql_by_dialect["sqlite"] = "CREATE TABLE for_sqlite (x INTEGER)";
  m.sql_by_dialect["postgresql"] = "CREATE TABLE for_postgresql (x BIGINT)";
  Migration nothing{2, "CREATE TABLE portable (x INTEGER)", {}};
  nothing.sql_by_dialect["sqlite"] = "";  // nothing to do here, still recorded
  BOOST_TEST(store.dialect() == "sqlite");
  BOOST_TEST(run(store.migrate("core", {m, nothing})) == 2);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM sqlite_master WHERE name = 'for_sqlite'") == 1);
  BOOST_TEST(scalar(store,
                    "SELECT count(*) FROM sqlite_master WHERE name <> 'for_sqlite'"
                    " AND name <> 'schema_migrations' AND name NOT LIKE 'sqlite_%'") == 0);
  BOOST_TEST(run(store.migrate("core", {m, nothing})) == 0);
  BOOST_CHECK_EXCEPTION(run(store.migrate("other", {{1, "", {}}})), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()) ==
                                 "migration 1 of other has no SQL for sqlite";
                        });
}

BOOST_FIXTURE_TEST_CASE(a_plugin_reads_and_writes_its_own_tables, Confined) {
  BOOST_TEST(notes->dialect() == "sqlite");
  auto ins =
      run(notes->query({"INSERT INTO notes_items (body) VALUES (?1) ON CONFLICT (id) DO "
                        "NOTHING RETURNING id",
                        {std::string("bonjour")}}));
  BOOST_TEST_REQUIRE(ins.rows.size() == 1u);
  std::vector<Statement> both{
      {"UPDATE notes_items SET body = ?1 WHERE id = ?2", {std::string("salut"), ins.rows[0][0]}},
      {"SELECT count(*), max(length(body)) FROM notes_items", {}}};
  auto results = run(notes->transaction(std::move(both)));
  BOOST_TEST(std::get<std::int64_t>(results[1].rows.at(0).at(0)) == 1);
  BOOST_TEST(scalar(*notes,
                    "SELECT count(*) FROM notes_items AS n JOIN json_each('[1,2]') AS j"
                    " ON j.value = n.id") == 1);
  BOOST_TEST(scalar(*notes,
                    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r"
                    " WHERE n < 3) SELECT count(*) FROM r") == 3);
  // Its schema can change, in its own name space.
  BOOST_TEST(refusal(*notes, "ALTER TABLE notes_items ADD COLUMN author TEXT") == "");
  BOOST_TEST(refusal(*notes, "CREATE TABLE notes_tags (id INTEGER PRIMARY KEY AUTOINCREMENT)") ==
             "");
  BOOST_TEST(refusal(*notes, "DROP TABLE notes_tags") == "");
  BOOST_TEST(refusal(*notes, "PRAGMA table_info(notes_items)") == "");
}

BOOST_FIXTURE_TEST_CASE(a_plugin_cannot_reach_the_core_tables, Confined) {
  const std::string users =
      "store: plugin \"notes\" may not read table users: a plugin reaches"
      " only its own tables, named notes_*";
  BOOST_TEST(refusal(*notes, "SELECT password_hash FROM users") == users);
  BOOST_TEST(refusal(*notes, "SELECT count(*) FROM users") == users);
  BOOST_TEST(refusal(*notes, "SELECT 1 FROM users") == users);
  BOOST_TEST(refusal(*notes, "WITH u AS (SELECT 1) SELECT count(*) FROM u") == "");
  BOOST_TEST(
      refusal(*notes, "SELECT n.id FROM notes_items n WHERE n.id IN (SELECT id FROM users)") ==
      users);
  BOOST_TEST(refusal(*notes, "DELETE FROM users").find("may not delete from table users") !=
             std::string::npos);
  BOOST_TEST(
      refusal(*notes, "UPDATE users SET password_hash = 'x'").find("may not update table users") !=
      std::string::npos);
  BOOST_TEST(refusal(*notes, "INSERT INTO users (password_hash) VALUES ('x')")
                 .find("may not insert into table users") != std::string::npos);
  BOOST_TEST(refusal(*notes, "DROP TABLE users").find("may not drop table users") !=
             std::string::npos);
  BOOST_TEST(refusal(*notes, "CREATE INDEX notes_x ON users (password_hash)")
                 .find("may not index table users") != std::string::npos);
  BOOST_TEST(
      refusal(*notes, "ALTER TABLE users ADD COLUMN x TEXT").find("may not alter table users") !=
      std::string::npos);
  // A view or a trigger of its own does not open a way round.
  BOOST_TEST(refusal(*notes, "CREATE VIEW notes_view AS SELECT * FROM users") == "");
  BOOST_TEST(refusal(*notes, "SELECT * FROM notes_view") == users);
  BOOST_TEST(refusal(*notes,
                     "CREATE TRIGGER notes_t AFTER INSERT ON notes_items BEGIN"
                     " DELETE FROM users; END") == "");
  BOOST_TEST(refusal(*notes, "INSERT INTO notes_items (body) VALUES ('x')")
                 .find("may not delete from table users") != std::string::npos);
  BOOST_TEST(refusal(*notes, "DROP TRIGGER notes_t") == "");
  // The core's rows are untouched, and the core still reaches everything.
  BOOST_TEST(scalar(store, "SELECT count(*) FROM users WHERE password_hash = 'secret'") == 1);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM notes_items") == 0);
}

BOOST_FIXTURE_TEST_CASE(a_plugin_cannot_leave_its_name_space_in_other_ways, Confined) {
  auto refused = [&](const std::string& sql, const std::string& part) {
    const std::string e = refusal(*notes, sql);
    BOOST_TEST(e.find(part) != std::string::npos, sql << " -> " << e);
  };
  refused("SELECT name FROM sqlite_master", "may not read table sqlite_master");
  refused("UPDATE sqlite_master SET sql = 'x' WHERE name = 'users'", "may not be modified");
  refused("SELECT * FROM sqlite_sequence", "may not read table sqlite_sequence");
  refused("UPDATE sqlite_sequence SET seq = 0", "may not update table sqlite_sequence");
  refused("ATTACH DATABASE ':memory:' AS other", "may not attach or detach databases");
  refused("PRAGMA writable_schema = ON", "may not run PRAGMA writable_schema(ON)");
  refused("PRAGMA foreign_keys = OFF", "may not run PRAGMA foreign_keys(OFF)");
  refused("PRAGMA table_info(users)", "may not run PRAGMA table_info(users)");
  refused("SELECT * FROM pragma_table_info('users')", "may not");
  refused("BEGIN", "use Database::transaction()");
  refused("SAVEPOINT s", "use Database::transaction()");
  refused("VACUUM", "may not attach or detach databases");
  refused("ANALYZE", "may not create table sqlite_stat1");
  refused("CREATE TEMP TABLE notes_tmp (x)", "may not use temporary objects");
  refused("CREATE TABLE other_items (x)", "may not create table other_items");
  refused("CREATE TABLE notes (x)", "may not create table notes");  // the bare name is not its own
  refused("CREATE TABLE Notes_Upper (x)", "names are lower case");
  refused("ALTER TABLE notes_items RENAME TO notes_renamed", "may not rename tables");
  refused("CREATE VIRTUAL TABLE notes_stat USING dbstat", "of module dbstat");
  refused("SELECT * FROM dbstat", "may not read table dbstat");
  refused("SELECT * FROM sqlite_stmt", "may not read table sqlite_stmt");
  refused("SELECT fts3_tokenizer('simple', x'00')", "may not call fts3_tokenizer()");
  refused("SELECT load_extension('/tmp/x.so')", "may not call load_extension()");
  refused("SELECT * FROM notes_items WHERE id = ?", "must be written ?1");
  refused("SELECT * FROM notes_items WHERE id = :id", "must be written ?1");
  // The refusal does not outlive its statement, nor leak to the next user of the connection.
  BOOST_TEST(refusal(*notes, "SELECT count(*) FROM notes_items") == "");
  BOOST_TEST(scalar(store, "SELECT count(*) FROM users") == 1);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM sqlite_master WHERE name = 'notes_renamed'") == 0);
}

BOOST_FIXTURE_TEST_CASE(a_plugin_migration_is_confined_and_rolled_back, Confined) {
  std::vector<Migration> ms{{1, "CREATE TABLE notes_items (id INTEGER PRIMARY KEY, body TEXT);"},
                            {2, "CREATE TABLE notes_more (x); DELETE FROM users;"}};
  BOOST_CHECK_EXCEPTION(run(notes->migrate(ms)), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find(
                                     "migration 2 of plugin:notes: store: plugin \"notes\" may "
                                     "not delete from table users") == 0;
                        });
  BOOST_TEST(scalar(store, "SELECT count(*) FROM users") == 1);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM sqlite_master WHERE name = 'notes_more'") == 0);
}

BOOST_FIXTURE_TEST_CASE(full_text_search_works_inside_the_name_space, Confined) {
  BOOST_TEST(refusal(*notes, "CREATE VIRTUAL TABLE notes_search USING fts5(body)") == "");
  BOOST_TEST(refusal(*notes, "INSERT INTO notes_search (body) VALUES ('les communes rurales')") ==
             "");
  BOOST_TEST(
      scalar(*notes, "SELECT count(*) FROM notes_search WHERE notes_search MATCH 'rurales'") == 1);
  BOOST_TEST(refusal(*notes, "CREATE VIRTUAL TABLE users_search USING fts5(body)")
                 .find("may not create table users_search") != std::string::npos);
  // An index over the core's table, with the plugin's name, reads nothing of it.
  BOOST_TEST(refusal(*notes,
                     "CREATE VIRTUAL TABLE notes_users USING fts5(password_hash, "
                     "content='users', content_rowid='id')") == "");
  BOOST_TEST(refusal(*notes, "INSERT INTO notes_users (notes_users) VALUES ('rebuild')")
                 .find("may not read table users") != std::string::npos);
  BOOST_TEST(
      refusal(*notes, "SELECT password_hash FROM notes_users").find("may not read table users") !=
      std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_runaway_plugin_statement_is_stopped_and_the_store_goes_on) {
  // An endless recursive CTE (here one of a hundred million rows, some seconds) would hold a
  // connection for good: with two of them, the core's logins would wait too.
  TempDir dir;
  SqliteStore store(dir.path() + "/db.sqlite", 1, std::chrono::milliseconds(100));
  auto notes = store.for_plugin("notes");
  const std::string endless =
      "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100000000)"
      " SELECT count(*) FROM r";
  BOOST_TEST(refusal(*notes, endless) == "store: a plugin's statement is stopped after 100 ms");
  // The connection serves again, the plugin's short statements and the core's alike.
  BOOST_TEST(scalar(*notes, "SELECT 1") == 1);
  BOOST_TEST(scalar(store,
                    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r"
                    " WHERE n < 1000) SELECT count(*) FROM r") == 1000);
}

BOOST_AUTO_TEST_CASE(a_caller_cancelled_while_its_query_runs_does_not_end_the_process) {
  // A handler past its deadline is cancelled while the store runs its statement. Boost 1.81's
  // co_spawn then threw out of the store's thread once the statement ended (std::terminate):
  // any slow store and a deadline stopped the whole gateway.
  TempDir dir;
  const std::string path = dir.path() + "/db.sqlite";
  SqliteStore store(path, 2);
  run(store.query({"CREATE TABLE t (x)", {}}));
  // Another writer holds the database: the caller's INSERT waits for it on one store thread.
  sqlite3* other = nullptr;
  BOOST_TEST_REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  BOOST_TEST_REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) ==
                     SQLITE_OK);
  boost::asio::io_context ioc;
  boost::asio::cancellation_signal deadline;
  bool ended = false;
  auto done = [&](std::exception_ptr, QueryResult) { ended = true; };
  boost::asio::co_spawn(ioc, store.query({"INSERT INTO t VALUES (1)", {}}),
                        boost::asio::bind_cancellation_slot(deadline.slot(), done));
  ioc.poll();
  deadline.emit(boost::asio::cancellation_type::all);
  // Served by the other store thread after the cancellation was delivered there.
  BOOST_TEST(scalar(store, "SELECT count(*) FROM t") == 0);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ioc.run();  // until the caller has ended
  BOOST_TEST(ended);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM t") == 1);  // the write was done
}

BOOST_AUTO_TEST_CASE(a_plugin_whose_prefix_holds_a_core_table_gets_no_store) {
  // Plugin "user" would own user_links (and so link any identity to any account), "api" the
  // API tokens, "signing" the signing key, "schema" the migrations, "sqlite" the counters.
  TempDir dir;
  SqliteStore store(dir.path() + "/db.sqlite", 1);
  run(store.migrate("core", core_migrations()));
  for (const auto& [name, table] :
       std::vector<std::pair<std::string, std::string>>{{"user", "user_links"},
                                                        {"api", "api_tokens"},
                                                        {"signing", "signing_keys"},
                                                        {"schema", "schema_migrations"},
                                                        {"territory", "territory_regions"},
                                                        {"sqlite", "sqlite_master"}}) {
    BOOST_TEST(core_table_reached(name) == table, name);
    BOOST_CHECK_THROW(store.for_plugin(name), std::invalid_argument);
  }
  BOOST_TEST(core_table_reached("users") == "");
  BOOST_TEST(core_table_reached("directorates") == "");
  BOOST_TEST(core_table_reached("notes") == "");
  BOOST_CHECK_NO_THROW(store.for_plugin("notes"));
}

BOOST_AUTO_TEST_CASE(table_prefixes) {
  BOOST_TEST(table_prefix("hello") == "hello_");
  BOOST_TEST(table_prefix("my-plugin") == "my_plugin_");
}

BOOST_AUTO_TEST_SUITE_END()
