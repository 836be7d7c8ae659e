// The PostgreSQL store against a real server: a throwaway cluster on loopback
// (tools/lib/pg-cluster), started once for the suite. Portable SQL (?n placeholders, typed
// values), all-or-nothing transactions, migrations applied once by instances starting
// together, a pool that never opens more than its connections, and a database that goes away
// and comes back.
#include "store/pg_store.hpp"
#include "auth/accounts.hpp"
#include "auth/caller_cache.hpp"
#include "store/core_schema.hpp"
#include "store/open_store.hpp"
#include "store/pg_sql.hpp"
#include "support/pg_cluster.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"
#include "util/blocking_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

using namespace passerelle;
using passerelle::test::Cluster;
using passerelle::test::have_postgresql;
using passerelle::test::run;
using passerelle::test::TempDir;

namespace {

Cluster* shared_cluster = nullptr;

struct SuiteCluster {
  SuiteCluster() {
    if (!have_postgresql()) {
      std::cerr << "\n*** pg_store: PostgreSQL is not installed here (Debian: postgresql-15); its "
                   "tests are SKIPPED. tools/test installs it. ***\n\n";
      return;
    }
    shared_cluster = new Cluster();
  }
  ~SuiteCluster() {
    delete shared_cluster;
    shared_cluster = nullptr;
  }
};

boost::test_tools::assertion_result postgresql_here(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(shared_cluster != nullptr);
  r.message() << "no PostgreSQL cluster (see the message above)";
  return r;
}

PgOptions options(std::string url = shared_cluster ? shared_cluster->url : "") {
  PgOptions o;
  o.url = std::move(url);
  o.connections = 3;
  o.connect_timeout = std::chrono::seconds(3);
  o.role_secret = "a secret of the test, 32 bytes or so";
  return o;
}

// A table name of its own per test: the cluster is shared by the suite.
std::string table(const std::string& name) { return "t_" + name; }

}  // namespace

BOOST_AUTO_TEST_SUITE(pg_sql)

BOOST_AUTO_TEST_CASE(numbered_placeholders_become_dollar_parameters_outside_literals) {
  using pg::translate_placeholders;
  BOOST_TEST(translate_placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12") ==
             "SELECT a FROM t WHERE b = $1 AND c = $12");
  BOOST_TEST(translate_placeholders("SELECT '?1', 'it''s ?2', \"col?3\" FROM t WHERE x = ?1") ==
             "SELECT '?1', 'it''s ?2', \"col?3\" FROM t WHERE x = $1");
  BOOST_TEST(translate_placeholders("SELECT 1 -- ?1 here\n, ?2 /* ?3 /* ?4 */ */") ==
             "SELECT 1 -- ?1 here\n, $2 /* ?3 /* ?4 */ */");
  BOOST_TEST(translate_placeholders("SELECT $tag$ ?1 $tag$, $$ ?2 $$, E'\\' ?3', ?4") ==
             "SELECT $tag$ ?1 $tag$, $$ ?2 $$, E'\\' ?3', $4");
  BOOST_CHECK_THROW(translate_placeholders("SELECT ?"), std::invalid_argument);
  BOOST_CHECK_THROW(translate_placeholders("SELECT $1"), std::invalid_argument);
  BOOST_CHECK_THROW(translate_placeholders("SELECT 'open"), std::invalid_argument);
  BOOST_CHECK_THROW(translate_placeholders("SELECT /* open"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(values_go_as_text_with_their_type_and_come_back_typed) {
  BOOST_TEST(pg::parameter(std::int64_t{-42}).text == "-42");
  BOOST_TEST(pg::parameter(std::int64_t{-42}).type == 20u);
  BOOST_TEST(pg::parameter(0.1).text == "0.1");  // shortest exact form
  BOOST_TEST(pg::parameter(nullptr).null);
  BOOST_TEST(pg::parameter(std::string("x")).type == 0u);
  BOOST_TEST(std::get<std::int64_t>(pg::value_of(20, "9007199254740993")) == 9007199254740993);
  BOOST_TEST(std::get<std::int64_t>(pg::value_of(16, "t")) == 1);
  BOOST_TEST(std::get<double>(pg::value_of(701, "1.5")) == 1.5);
  BOOST_TEST(std::get<std::string>(pg::value_of(25, "héllo")) == "héllo");
}

// A URL libpq cannot read is refused before any connection, with a message that quotes none
// of it (libpq's own would quote the piece it choked on: here, the password).
BOOST_AUTO_TEST_CASE(a_malformed_url_is_refused_without_quoting_it) {
  StoreConfig config;
  config.postgresql = PostgresConfig{};
  config.postgresql->url = "postgresql://gateway:s3cr%zzet@127.0.0.1:5432/passerelle";
  try {
    open_store(config, 1, "secret");
    BOOST_FAIL("a malformed URL was taken");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    BOOST_TEST(message.find("s3cr") == std::string::npos, message);
    BOOST_TEST(message.find("store.postgresql.url") != std::string::npos, message);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pg_store, *boost::unit_test::fixture<SuiteCluster>())

BOOST_AUTO_TEST_CASE(query_binds_and_returns_typed_values,
                     *boost::unit_test::precondition(postgresql_here)) {
  PgStore store(options());
  BOOST_TEST(store.dialect() == "postgresql");
  const std::string t = table("typed");
  run(store.query({"CREATE TABLE " + t +
                       " (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, i BIGINT, r DOUBLE "
                       "PRECISION, s TEXT, n TEXT)",
                   {}}));
  auto ins =
      run(store.query({"INSERT INTO " + t + " (i, r, s, n) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                       {std::int64_t{7}, 1.5, std::string("héllo ' ?1"), nullptr}}));
  BOOST_TEST(ins.changes == 1);
  BOOST_TEST_REQUIRE(ins.rows.size() == 1u);
  BOOST_TEST(std::get<std::int64_t>(ins.rows[0][0]) == 1);
  auto rows =
      run(store.query({"SELECT i, r, s, n FROM " + t + " WHERE i = ?1", {std::int64_t{7}}}));
  BOOST_TEST((rows.columns == std::vector<std::string>{"i", "r", "s", "n"}));
  BOOST_TEST_REQUIRE(rows.rows.size() == 1u);
  BOOST_TEST(std::get<std::int64_t>(rows.rows[0][0]) == 7);
  BOOST_TEST(std::get<double>(rows.rows[0][1]) == 1.5);
  BOOST_TEST(std::get<std::string>(rows.rows[0][2]) == "héllo ' ?1");
  BOOST_TEST(std::holds_alternative<std::nullptr_t>(rows.rows[0][3]));
  // An upsert in the portable form, and a count.
  run(store.query({"CREATE TABLE " + t + "_kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)", {}}));
  for (int i = 0; i < 3; ++i)
    run(store.query({"INSERT INTO " + t +
                         "_kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                     {std::string("a"), std::int64_t{i}}}));
  auto kv = run(store.query({"SELECT count(*), max(v) FROM " + t + "_kv", {}}));
  BOOST_TEST(std::get<std::int64_t>(kv.rows[0][0]) == 1);
  BOOST_TEST(std::get<std::int64_t>(kv.rows[0][1]) == 2);
}

BOOST_AUTO_TEST_CASE(an_sql_error_is_an_error_and_the_connection_stays_usable,
                     *boost::unit_test::precondition(postgresql_here)) {
  PgStore store(options());
  BOOST_CHECK_THROW(run(store.query({"SELECT * FROM no_such_table", {}})), std::runtime_error);
  BOOST_CHECK_THROW(run(store.query({"SELECT ?", {}})), std::invalid_argument);
  for (int i = 0; i < 5; ++i)  // more than the pool's connections: none was lost
    BOOST_TEST(std::get<std::int64_t>(
                   run(store.query({"SELECT 1 + ?1", {std::int64_t{i}}})).rows[0][0]) == i + 1);
}

BOOST_AUTO_TEST_CASE(a_transaction_is_all_or_nothing,
                     *boost::unit_test::precondition(postgresql_here)) {
  PgStore store(options());
  const std::string t = table("tx");
  run(store.query({"CREATE TABLE " + t + " (k TEXT PRIMARY KEY)", {}}));
  auto done = run(store.transaction({{"INSERT INTO " + t + " VALUES (?1)", {std::string("a")}},
                                     {"SELECT count(*) FROM " + t, {}}}));
  BOOST_TEST_REQUIRE(done.size() == 2u);
  BOOST_TEST(std::get<std::int64_t>(done[1].rows[0][0]) == 1);
  BOOST_CHECK_THROW(
      run(store.transaction({{"INSERT INTO " + t + " VALUES (?1)", {std::string("b")}},
                             {"INSERT INTO " + t + " VALUES (?1)", {std::string("a")}}})),
      std::runtime_error);
  auto rows = run(store.query({"SELECT k FROM " + t + " ORDER BY k", {}}));
  BOOST_TEST(rows.rows.size() == 1u);  // "b" went with the failed transaction
}

BOOST_AUTO_TEST_CASE(migrations_apply_once_even_from_instances_starting_together,
                     *boost::unit_test::precondition(postgresql_here)) {
  const std::vector<Migration> migrations = {
      {1,
       "CREATE TABLE mig_items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
       {{"sqlite", "not for this dialect"}}},
      {2,
       "",
       {{"postgresql",
         "ALTER TABLE mig_items ADD COLUMN n BIGINT NOT NULL DEFAULT 0; "
         "INSERT INTO mig_items (id, body) VALUES (1, 'seeded')"}}}};
  PgStore a(options()), b(options());
  boost::asio::io_context ioc;
  auto first = boost::asio::co_spawn(ioc, a.migrate("mig", migrations), boost::asio::use_future);
  auto second = boost::asio::co_spawn(ioc, b.migrate("mig", migrations), boost::asio::use_future);
  ioc.run();
  BOOST_TEST(first.get() + second.get() == 2);  // each migration once, by either instance
  BOOST_TEST(run(a.migrate("mig", migrations)) == 0);
  auto rows = run(a.query({"SELECT count(*) FROM mig_items", {}}));
  BOOST_TEST(std::get<std::int64_t>(rows.rows[0][0]) == 1);
  // A failing migration changes nothing and says which one.
  try {
    run(a.migrate("mig",
                  {migrations[0], migrations[1], {3, "CREATE TABLE mig_x (a INT); BROKEN"}}));
    BOOST_FAIL("a broken migration was applied");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("migration 3 of mig") != std::string::npos);
  }
  BOOST_CHECK_THROW(run(a.query({"SELECT 1 FROM mig_x", {}})), std::runtime_error);
}

// The core's own tables on PostgreSQL (their text for this dialect), and accounts through
// them: ids from RETURNING, a taken username told as such.
BOOST_AUTO_TEST_CASE(the_core_schema_and_accounts_work_on_postgresql,
                     *boost::unit_test::precondition(postgresql_here)) {
  Cluster own;  // a database of its own: the core's table names are fixed
  PgStore store(options(own.url));
  BOOST_TEST(run(store.migrate("core", core_migrations())) ==
             static_cast<int>(core_migrations().size()));
  BOOST_TEST(run(store.migrate("core", core_migrations())) == 0);
  BlockingPool pool(1);
  Accounts accounts(store, pool, true);
  NewAccount a{"elu.test", "correct horse battery", "Élu test", "elu@example.org", {"elu"}, "49007",
               ""};
  const std::int64_t first = run(accounts.create(a));
  BOOST_TEST(first >= 1);
  a.username = "agent.test";
  BOOST_TEST(run(accounts.create(a)) == first + 1);
  BOOST_CHECK_THROW(run(accounts.create(a)), AccountError);
  auto found = run(accounts.check_password("elu.test", "correct horse battery"));
  BOOST_TEST_REQUIRE(found.has_value());
  BOOST_TEST(found->id == first);
  BOOST_TEST(!run(accounts.check_password("elu.test", "wrong")).has_value());
  // A federated login creates its account once, then finds it, claims applied each time.
  FederatedProfile profile;
  profile.display_name = "Agent fédéré";
  profile.email = "agent@example.org";
  const Account linked = run(accounts.link_federated("proconnect", "sub-1", profile));
  profile.display_name = "Agent renommé";
  const Account again = run(accounts.link_federated("proconnect", "sub-1", profile));
  BOOST_TEST(again.id == linked.id);
  BOOST_TEST(again.display_name == "Agent renommé");
  BOOST_TEST(run(accounts.link_federated("proconnect", "sub-2", profile)).id != linked.id);
}

// A plugin connects as a role of its own: its tables, and nothing of the core's or of another
// plugin's, whatever SQL it sends; a migration that creates something else is undone.
BOOST_AUTO_TEST_CASE(a_plugin_reaches_only_its_own_tables,
                     *boost::unit_test::precondition(postgresql_here)) {
  PgStore store(options());
  run(store.query({"CREATE TABLE IF NOT EXISTS core_secrets (v TEXT)", {}}));
  run(store.query({"INSERT INTO core_secrets VALUES ('password hash')", {}}));
  auto notes = store.for_plugin("notes");
  BOOST_TEST(notes->dialect() == "postgresql");
  const std::vector<Migration> migrations = {
      {1,
       "CREATE TABLE notes_items (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
       "body TEXT NOT NULL); CREATE INDEX notes_items_body ON notes_items (body)"}};
  BOOST_TEST(run(notes->migrate(migrations)) == 1);
  BOOST_TEST(run(notes->migrate(migrations)) == 0);
  auto id = run(notes->query(
      {"INSERT INTO notes_items (body) VALUES (?1) RETURNING id", {std::string("a note")}}));
  BOOST_TEST(std::get<std::int64_t>(id.rows[0][0]) >= 1);
  BOOST_TEST(run(notes->query({"SELECT body FROM notes_items", {}})).rows.size() == 1u);
  for (const char* sql :
       {"SELECT v FROM core_secrets", "SELECT v FROM public.core_secrets",
        "DELETE FROM public.core_secrets", "CREATE TABLE public.notes_x (a INT)",
        "CREATE FUNCTION public.lower(bigint) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$",
        "DELETE FROM core_secrets", "DROP TABLE core_secrets", "SELECT * FROM schema_migrations",
        "INSERT INTO schema_migrations VALUES ('core', 99, 0)"})
    BOOST_CHECK_THROW(run(notes->query({sql, {}})), std::runtime_error);
  // Leaving its role is not a way out: its session is that role.
  BOOST_CHECK_THROW(run(notes->transaction({{"SELECT set_config('role', 'none', false)", {}},
                                            {"SELECT v FROM core_secrets", {}}})),
                    std::runtime_error);
  BOOST_CHECK_THROW(
      run(notes->transaction({{"RESET ROLE", {}}, {"SELECT v FROM core_secrets", {}}})),
      std::runtime_error);
  // Another plugin does not reach it either.
  auto other = store.for_plugin("other");
  BOOST_CHECK_THROW(run(other->query({"SELECT body FROM notes_items", {}})), std::runtime_error);
  BOOST_CHECK_THROW(run(other->query({"SELECT body FROM passerelle_notes_plugin.notes_items", {}})),
                    std::runtime_error);
  // A table not named notes_...: the migration is undone and says why.
  try {
    run(notes->migrate({migrations[0], {2, "CREATE TABLE rogue (a INTEGER)"}}));
    BOOST_FAIL("a table outside the plugin's names was created");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("rogue is not one of its tables") != std::string::npos,
               e.what());
  }
  BOOST_TEST(std::get<std::int64_t>(
                 run(store.query({"SELECT count(*) FROM pg_class WHERE relname = 'rogue'", {}}))
                     .rows[0][0]) == 0);
  BOOST_TEST(run(store.query({"SELECT v FROM core_secrets", {}})).rows.size() == 1u);
  BOOST_CHECK_THROW(store.for_plugin("user"), std::invalid_argument);  // user_links is the core's
}

// Two instances: what one forgets, the other forgets within a second (NOTIFY / LISTEN).
BOOST_AUTO_TEST_CASE(an_invalidation_reaches_the_other_instance,
                     *boost::unit_test::precondition(postgresql_here)) {
  PgStore a(options()), b(options());
  CallerCaches here{{}, {}}, there{{}, {}};
  here.relay_through([&a](const std::string& m) { a.notify("t_callers", m); });
  std::mutex mutex;
  std::vector<std::string> heard;
  b.listen(
      "t_callers",
      [&](const std::string& m) {
        there.apply_relayed(m);
        std::lock_guard lock(mutex);
        heard.push_back(m);
      },
      [&] { there.apply_relayed("*"); });
  auto caller = std::make_shared<CachedCaller>();
  caller->context.user_id = 42;
  const auto kept = [&] { return there.sessions.find("session-hash").caller != nullptr; };
  // LISTEN takes a moment: send until the other side hears.
  for (int i = 0; i < 50; ++i) {
    {
      std::lock_guard lock(mutex);
      if (!heard.empty()) break;
    }
    a.notify("t_callers", "s999:0");  // a user nobody has
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  there.sessions.put("session-hash", caller, 0, there.sessions.sequence());
  BOOST_TEST_REQUIRE(kept());
  here.forget_user(41);  // another user: stays
  here.forget_user(42);
  bool forgotten = false;
  for (int i = 0; i < 20 && !forgotten; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    forgotten = !kept();
  }
  BOOST_TEST(forgotten);
  std::lock_guard lock(mutex);
  BOOST_TEST((std::find(heard.begin(), heard.end(), "s1:42") != heard.end()));
}

// What a statement can do to the connection it ran on stays with it: COPY is refused (libpq
// would hand out its result for ever), a large result is read whole (edge-triggered waits),
// and a plugin's session settings and locks are reset before the connection is lent again.
BOOST_AUTO_TEST_CASE(a_statement_cannot_wedge_the_store,
                     *boost::unit_test::precondition(postgresql_here)) {
  PgStore store(options());
  const std::string t = table("wedge");
  run(store.query({"CREATE TABLE " + t + " (v TEXT)", {}}));
  BOOST_CHECK_THROW(run(store.query({"COPY " + t + " TO STDOUT", {}})), std::runtime_error);
  // Several megabytes in one result, more than one read of the socket.
  auto big = run(store.query({"SELECT g, repeat('x', 40) FROM generate_series(1, 100000) g", {}}));
  BOOST_TEST(big.rows.size() == 100000u);
  BOOST_TEST(std::get<std::int64_t>(big.rows.back()[0]) == 100000);
  auto plugin = store.for_plugin("wedge");
  BOOST_CHECK_THROW(run(plugin->query({"COPY (SELECT 1) TO STDOUT", {}})), std::runtime_error);
  run(plugin->query({"SET statement_timeout = 0", {}}));
  // The migrations' lock, taken and kept by a plugin's session: released when it is lent back.
  run(plugin->query({"SELECT pg_advisory_lock(8097880544449291628)", {}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its reset runs meanwhile
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(std::get<std::string>(
                   run(plugin->query({"SHOW statement_timeout", {}})).rows[0][0]) != "0");
  BOOST_TEST(run(store.migrate("wedge-check", {{1, "SELECT 1"}})) == 1);
  BOOST_TEST(std::get<std::int64_t>(run(store.query({"SELECT 1", {}})).rows[0][0]) == 1);
}

BOOST_AUTO_TEST_CASE(the_pool_never_opens_more_than_its_connections,
                     *boost::unit_test::precondition(postgresql_here)) {
  PgStore store(options());
  boost::asio::io_context ioc;
  std::vector<std::future<QueryResult>> answers;
  for (int i = 0; i < 40; ++i)
    answers.push_back(boost::asio::co_spawn(
        ioc, store.query({"SELECT pg_sleep(0.01), ?1::bigint", {std::int64_t{i}}}),
        boost::asio::use_future));
  ioc.run();
  for (int i = 0; i < 40; ++i) BOOST_TEST(std::get<std::int64_t>(answers[i].get().rows[0][1]) == i);
  BOOST_TEST(store.open_connections() <= 3u);
  BOOST_TEST(store.open_connections() >= 1u);
}

BOOST_AUTO_TEST_CASE(a_database_that_is_not_there_is_store_unavailable_at_once) {
  // A port nothing listens on (connection refused): no wait, no crash.
  PgStore store(options("postgresql://passerelle:x@127.0.0.1:9/passerelle"));
  BOOST_CHECK_THROW(run(store.query({"SELECT 1", {}})), StoreUnavailable);
  BOOST_CHECK_THROW(run(store.query({"SELECT 1", {}})), StoreUnavailable);  // backing off
  BOOST_TEST(store.open_connections() == 0u);
}

BOOST_AUTO_TEST_CASE(the_store_recovers_by_itself_when_the_database_comes_back,
                     *boost::unit_test::precondition(postgresql_here)) {
  Cluster own;  // stopped and started here: not the suite's
  PgStore store(options(own.url));
  BOOST_TEST(std::get<std::int64_t>(run(store.query({"SELECT 41 + 1", {}})).rows[0][0]) == 42);
  BOOST_TEST(store.available());
  own.stop();
  BOOST_CHECK_THROW(run(store.query({"SELECT 1", {}})), StoreUnavailable);
  BOOST_TEST(!store.available());  // /readyz says so
  own.restart();
  // Within the back-off (at most 5 s) the store connects again on its own.
  bool back = false;
  for (int i = 0; i < 80 && !back; ++i) {
    try {
      back = std::get<std::int64_t>(run(store.query({"SELECT 1", {}})).rows[0][0]) == 1;
    } catch (const StoreUnavailable&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  BOOST_TEST(back);
  BOOST_TEST(store.available());
}

BOOST_AUTO_TEST_SUITE_END()
