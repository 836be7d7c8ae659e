// The store's prepared-statement cache: statements are reused, the cache stays bounded, and a
// statement is never run for anyone but the one it was prepared (and checked) for.
#include "store/sqlite_store.hpp"
#include "support/run.hpp"
#include "support/store_queries.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
using passerelle::test::refusal;
using passerelle::test::run;
using passerelle::test::scalar;
using passerelle::test::TempDir;

namespace {

// What the store's caches did since this was made.
struct Delta {
  SqliteStore& store;
  StatementCacheStats start = store.statement_cache_stats();
  std::uint64_t prepares() const { return store.statement_cache_stats().prepares - start.prepares; }
  std::uint64_t hits() const { return store.statement_cache_stats().hits - start.hits; }
  std::uint64_t evictions() const {
    return store.statement_cache_stats().evictions - start.evictions;
  }
};

// One connection (so one cache), a core table and two plugins with a table each.
struct TwoPlugins {
  TempDir dir;
  SqliteStore store{dir.path() + "/db.sqlite", 1};
  std::unique_ptr<PluginStore> notes = store.for_plugin("notes");
  std::unique_ptr<PluginStore> other = store.for_plugin("other");

  TwoPlugins() {
    run(store.migrate("core", {{1,
                                "CREATE TABLE users (id INTEGER PRIMARY KEY,"
                                " password_hash TEXT);"
                                "INSERT INTO users (password_hash) VALUES ('secret');"}}));
    run(notes->migrate({{1,
                         "CREATE TABLE notes_items (id INTEGER PRIMARY KEY, body TEXT);"
                         "INSERT INTO notes_items (body) VALUES ('bonjour');"}}));
    run(other->migrate({{1, "CREATE TABLE other_items (id INTEGER PRIMARY KEY);"}}));
  }
};

const std::string kUsersRefused =
    "store: plugin \"notes\" may not read table users: a plugin reaches only its own tables,"
    " named notes_*";

}  // namespace

BOOST_AUTO_TEST_SUITE(statement_cache)

BOOST_AUTO_TEST_CASE(a_repeated_statement_is_prepared_once_and_bound_afresh) {
  SqliteStore store(":memory:", 1);
  run(store.query({"CREATE TABLE t (k INTEGER, v TEXT)", {}}));
  run(store.query({"INSERT INTO t VALUES (1, 'un'), (2, 'deux'), (3, 'trois')", {}}));
  const Delta delta{store};
  for (std::int64_t k = 1; k <= 3; ++k) {
    Statement st{"SELECT v FROM t WHERE k = ?1", {k}};
    auto rows = run(store.query(std::move(st))).rows;
    BOOST_TEST_REQUIRE(rows.size() == 1u);
    BOOST_TEST(std::get<std::string>(rows[0][0]) == (k == 1 ? "un" : k == 2 ? "deux" : "trois"));
  }
  BOOST_TEST(delta.prepares() == 1u);
  BOOST_TEST(delta.hits() == 2u);
  // Bindings are cleared after each use: a parameter not given this time is NULL.
  Statement none{"SELECT count(*) FROM t WHERE k = ?1", {}};
  Statement two{"SELECT count(*) FROM t WHERE k = ?1", {std::int64_t{2}}};
  BOOST_TEST(std::get<std::int64_t>(run(store.query(std::move(two))).rows.at(0).at(0)) == 1);
  BOOST_TEST(std::get<std::int64_t>(run(store.query(std::move(none))).rows.at(0).at(0)) == 0);
}

BOOST_AUTO_TEST_CASE(the_cache_is_bounded_and_drops_the_least_recently_used) {
  SqliteStore store(":memory:", 1, std::chrono::seconds(30), 2);
  const Delta delta{store};
  BOOST_TEST(scalar(store, "SELECT 1") == 1);  // cached: [1]
  BOOST_TEST(scalar(store, "SELECT 2") == 2);  // [2, 1]
  BOOST_TEST(scalar(store, "SELECT 3") == 3);  // [3, 2]: 1 dropped
  BOOST_TEST(delta.prepares() == 3u);
  BOOST_TEST(delta.evictions() == 1u);
  BOOST_TEST(store.statement_cache_stats().size == 2u);
  BOOST_TEST(scalar(store, "SELECT 2") == 2);  // hit: [2, 3]
  BOOST_TEST(delta.hits() == 1u);
  BOOST_TEST(scalar(store, "SELECT 1") == 1);  // prepared again: [1, 2], 3 dropped
  BOOST_TEST(delta.prepares() == 4u);
  BOOST_TEST(scalar(store, "SELECT 2") == 2);  // still there
  BOOST_TEST(delta.hits() == 2u);
  BOOST_TEST(scalar(store, "SELECT 3") == 3);
  BOOST_TEST(delta.prepares() == 5u);
  BOOST_TEST(delta.evictions() == 3u);
  BOOST_TEST(store.statement_cache_stats().size == 2u);
}

BOOST_AUTO_TEST_CASE(a_cache_of_size_zero_keeps_nothing) {
  SqliteStore store(":memory:", 1, std::chrono::seconds(30), 0);
  const Delta delta{store};
  for (int i = 0; i < 3; ++i) BOOST_TEST(scalar(store, "SELECT 7") == 7);
  BOOST_TEST(delta.prepares() == 3u);
  BOOST_TEST(delta.hits() == 0u);
  BOOST_TEST(store.statement_cache_stats().size == 0u);
}

BOOST_AUTO_TEST_CASE(an_error_leaves_the_cached_statement_reusable) {
  SqliteStore store(":memory:", 1);
  run(store.query({"CREATE TABLE t (id INTEGER PRIMARY KEY)", {}}));
  const std::string insert = "INSERT INTO t (id) VALUES (?1)";
  const Delta delta{store};
  Statement first{insert, {std::int64_t{1}}};
  run(store.query(std::move(first)));
  Statement again{insert, {std::int64_t{1}}};
  BOOST_CHECK_EXCEPTION(
      run(store.query(std::move(again))), std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()).find("UNIQUE constraint failed") != std::string::npos;
      });
  Statement next{insert, {std::int64_t{2}}};
  BOOST_TEST(run(store.query(std::move(next))).changes == 1);
  BOOST_TEST(delta.prepares() == 1u);
  BOOST_TEST(delta.hits() == 2u);
  // The same in a transaction that fails and is rolled back, then succeeds.
  std::vector<Statement> failing{{insert, {std::int64_t{3}}}, {insert, {std::int64_t{3}}}};
  BOOST_CHECK_THROW(run(store.transaction(std::move(failing))), std::runtime_error);
  std::vector<Statement> passing{{insert, {std::int64_t{3}}}, {insert, {std::int64_t{4}}}};
  run(store.transaction(std::move(passing)));
  BOOST_TEST(scalar(store, "SELECT count(*) FROM t") == 4);
  BOOST_TEST(delta.prepares() == 2u);  // the insert once, the count once
}

BOOST_FIXTURE_TEST_CASE(a_plugin_never_runs_a_statement_prepared_for_the_core, TwoPlugins) {
  const std::string secret = "SELECT password_hash FROM users";
  const Delta delta{store};
  BOOST_TEST(refusal(store, secret) == "");  // cached for the core
  BOOST_TEST(refusal(store, secret) == "");
  BOOST_TEST(delta.hits() == 1u);
  // The same text from a plugin is prepared for it, and refused, every time.
  BOOST_TEST(refusal(*notes, secret) == kUsersRefused);
  BOOST_TEST(refusal(*notes, secret) == kUsersRefused);
  BOOST_TEST(delta.hits() == 1u);
  BOOST_TEST(delta.prepares() == 1u);  // refused preparations do not count: nothing compiled
  // The core still gets its own.
  BOOST_TEST(refusal(store, secret) == "");
  BOOST_TEST(delta.hits() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_plugin_never_runs_a_statement_prepared_for_another, TwoPlugins) {
  const std::string mine = "SELECT count(*) FROM notes_items";
  BOOST_TEST(scalar(*notes, mine) == 1);
  BOOST_TEST(scalar(*notes, mine) == 1);
  BOOST_TEST(refusal(*other, mine).find("plugin \"other\" may not read table notes_items") !=
             std::string::npos);
  // The core may run the same text; it is prepared for the core.
  const Delta delta{store};
  BOOST_TEST(scalar(store, mine) == 1);
  BOOST_TEST(delta.prepares() == 1u);
  BOOST_TEST(scalar(*notes, mine) == 1);
  BOOST_TEST(delta.hits() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_cached_statement_prepared_again_after_a_schema_change_stays_confined,
                        TwoPlugins) {
  // notes' statement is cached, checked against notes' tables when it was prepared.
  const std::string mine = "SELECT body FROM notes_items";
  BOOST_TEST(run(notes->query({mine, {}})).rows.size() == 1u);
  BOOST_TEST(run(notes->query({mine, {}})).rows.size() == 1u);
  // The core (no confinement) turns notes_items into a view of the core's secrets: the cached
  // statement is now stale, and SQLite prepares it again at its next run, asking the
  // authorizer again then.
  run(store.migrate("core", {{2,
                              "DROP TABLE notes_items;"
                              "CREATE VIEW notes_items AS SELECT id, password_hash AS body"
                              " FROM users;"}}));
  // Someone else ran last on the connection: another plugin, then the core.
  BOOST_TEST(scalar(*other, "SELECT count(*) FROM other_items") == 0);
  BOOST_TEST(scalar(store, "SELECT count(*) FROM users") == 1);
  const Delta delta{store};
  BOOST_TEST(refusal(*notes, mine) == kUsersRefused);
  BOOST_TEST(delta.hits() == 1u);  // it was the cached statement, prepared again...
  BOOST_TEST(delta.prepares() == 0u);
  BOOST_TEST(refusal(*notes, mine) == kUsersRefused);  // ...and it stays refused
  // Nothing leaked into the others' statements: the core reads the view, "other" does not.
  BOOST_TEST(run(store.query({mine, {}})).rows.size() == 1u);
  BOOST_TEST(refusal(*other, mine).find("plugin \"other\" may not read table users") !=
             std::string::npos);
  BOOST_TEST(scalar(*other, "SELECT count(*) FROM other_items") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
