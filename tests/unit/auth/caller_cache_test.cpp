// The caller cache: size bounds, idle and absolute expiry, the TTL against the store, lazy
// writes of the idle clock, invalidation (also racing a fill); and through AuthService over a
// real store, that a logout, a closed session or a revoked token ends at once, and that the
// idle clock reaches the store in the background.
#include "auth/caller_cache.hpp"
#include "auth/auth_service.hpp"
#include "auth/crypto.hpp"
#include "store/core_schema.hpp"
#include "store/sqlite_store.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"
#include "util/blocking_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace std::chrono_literals;
using passerelle::test::run;
using passerelle::test::TempDir;

namespace {

constexpr std::int64_t kStart = 1'800'000'000;  // epoch seconds

// A clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::chrono::milliseconds> now =
      std::make_shared<std::chrono::milliseconds>(std::chrono::seconds(kStart));
  CallerCache::Clock clock() const {
    return [now = now] { return *now; };
  }
  void advance(std::chrono::milliseconds by) { *now += by; }
  std::int64_t seconds() const { return now->count() / 1000; }
};

std::shared_ptr<CachedCaller> caller(std::int64_t user_id, const std::string& username = "marie",
                                     std::int64_t created_at = kStart) {
  auto c = std::make_shared<CachedCaller>();
  c->context.user_id = user_id;
  c->context.identity.subject = "u-" + std::to_string(user_id);
  c->context.identity.roles = {"elu"};
  c->username = username;
  c->created_at = created_at;
  return c;
}

CallerCacheConfig config(std::size_t max_entries, std::chrono::milliseconds ttl = 3600s,
                         std::chrono::seconds idle = 0s, std::chrono::seconds absolute = 0s) {
  CallerCacheConfig c;
  c.max_entries = max_entries;
  c.ttl = ttl;
  c.idle_timeout = idle;
  c.absolute_timeout = absolute;
  return c;
}

void put(CallerCache& cache, const std::string& key, std::shared_ptr<CachedCaller> c,
         std::int64_t stored_last_seen = kStart) {
  cache.put(key, std::move(c), stored_last_seen, cache.generation(key));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(caller_cache)

BOOST_AUTO_TEST_CASE(a_hit_gives_what_the_store_said_and_a_miss_nothing) {
  ManualClock t;
  CallerCache cache(config(100), t.clock());
  BOOST_TEST(!cache.find("a").caller);
  put(cache, "a", caller(7));
  auto hit = cache.find("a");
  BOOST_TEST_REQUIRE(hit.caller != nullptr);
  BOOST_TEST(hit.caller->context.user_id == 7);
  BOOST_TEST(hit.caller->context.identity.has_role("elu"));
  BOOST_TEST(!cache.find("b").caller);
}

BOOST_AUTO_TEST_CASE(the_size_stays_within_max_entries_and_the_least_recent_goes_first) {
  ManualClock t;
  CallerCache cache(config(3), t.clock());
  for (const char* key : {"a", "b", "c"}) put(cache, key, caller(1));
  BOOST_TEST(cache.find("a").caller != nullptr);  // now "b" is the least recently used
  put(cache, "d", caller(1));
  BOOST_TEST(cache.size() == 3u);
  BOOST_TEST(!cache.find("b").caller);
  for (const char* key : {"a", "c", "d"}) BOOST_TEST(cache.find(key).caller != nullptr);

  CallerCache sharded(config(1000), t.clock());
  for (int i = 0; i < 5000; ++i) put(sharded, "key-" + std::to_string(i), caller(i));
  BOOST_TEST(sharded.size() <= 1000u);
  BOOST_TEST(sharded.size() >= 900u);  // every shard full, give or take the rounding
  BOOST_TEST(sharded.find("key-4999").caller != nullptr);
}

BOOST_AUTO_TEST_CASE(no_entries_means_no_cache) {
  ManualClock t;
  CallerCache cache(config(0), t.clock());
  BOOST_TEST(!cache.enabled());
  put(cache, "a", caller(1));
  BOOST_TEST(!cache.find("a").caller);
  BOOST_TEST(cache.size() == 0u);
}

BOOST_AUTO_TEST_CASE(after_the_ttl_the_store_is_asked_again_with_the_last_use_known) {
  ManualClock t;
  CallerCache cache(config(10, 5s), t.clock());
  put(cache, "a", caller(1));
  t.advance(4999ms);
  BOOST_TEST(cache.find("a").caller != nullptr);
  const std::int64_t used = t.seconds();
  t.advance(1ms);
  auto miss = cache.find("a");
  BOOST_TEST(!miss.caller);
  BOOST_TEST(miss.last_seen == used);
  put(cache, "a", caller(1), used);  // the store confirmed it: 5 s more
  t.advance(4s);
  BOOST_TEST(cache.find("a").caller != nullptr);
}

BOOST_AUTO_TEST_CASE(the_idle_timeout_counts_from_the_last_use_in_memory) {
  ManualClock t;
  CallerCache cache(config(10, 3600s, 60s, 0s), t.clock());
  put(cache, "a", caller(1));
  for (int i = 0; i < 5; ++i) {  // used every 50 s: alive well past 60 s after it was stored
    t.advance(50s);
    BOOST_TEST_REQUIRE(cache.find("a").caller != nullptr);
  }
  t.advance(60s);
  BOOST_TEST(cache.find("a").caller != nullptr);  // 60 s idle: not yet beyond the timeout
  t.advance(61s);
  auto miss = cache.find("a");
  BOOST_TEST(!miss.caller);
  BOOST_TEST(miss.last_seen == t.seconds() - 61);
}

BOOST_AUTO_TEST_CASE(the_absolute_timeout_ends_a_session_however_used) {
  ManualClock t;
  CallerCache cache(config(10, 3600s, 60s, 300s), t.clock());
  put(cache, "a", caller(1, "marie", kStart));
  for (int i = 0; i < 7; ++i) {  // used every 40 s
    t.advance(40s);
    BOOST_TEST_REQUIRE(cache.find("a").caller != nullptr);
  }
  t.advance(20s);  // 300 s old: still live
  BOOST_TEST(cache.find("a").caller != nullptr);
  t.advance(1s);
  BOOST_TEST(!cache.find("a").caller);
}

BOOST_AUTO_TEST_CASE(the_idle_clock_is_written_back_at_most_once_a_minute) {
  ManualClock t;
  CallerCache cache(config(10, 3600s, 3600s, 0s), t.clock());
  put(cache, "a", caller(1), kStart);
  t.advance(30s);
  BOOST_TEST(cache.find("a").write_last_seen == 0);
  t.advance(30s);
  BOOST_TEST(cache.find("a").write_last_seen == kStart + 60);
  BOOST_TEST(cache.find("a").write_last_seen == 0);  // claimed by the request before
  t.advance(59s);
  BOOST_TEST(cache.find("a").write_last_seen == 0);
  t.advance(1s);
  BOOST_TEST(cache.find("a").write_last_seen == kStart + 120);
}

BOOST_AUTO_TEST_CASE(invalidation_is_immediate_by_key_user_name_or_any_rule) {
  ManualClock t;
  CallerCaches caches(config(100), config(100), t.clock());
  put(caches.sessions, "s1", caller(1, "marie"));
  put(caches.sessions, "s2", caller(1, "marie"));
  put(caches.sessions, "s3", caller(2, "olga"));
  auto token = caller(2, "olga");
  token->token_id = 9;
  put(caches.tokens, "t9", token);

  caches.sessions.erase("s1");
  BOOST_TEST(!caches.sessions.find("s1").caller);
  BOOST_TEST(caches.sessions.find("s2").caller != nullptr);

  caches.forget_user(1);
  BOOST_TEST(!caches.sessions.find("s2").caller);
  BOOST_TEST(caches.sessions.find("s3").caller != nullptr);

  caches.forget_username("olga");
  BOOST_TEST(!caches.sessions.find("s3").caller);
  BOOST_TEST(!caches.tokens.find("t9").caller);

  put(caches.tokens, "t9", token);
  caches.tokens.erase_if([](const CachedCaller& c) { return c.token_id == 9; });
  BOOST_TEST(!caches.tokens.find("t9").caller);
}

BOOST_AUTO_TEST_CASE(a_fill_overtaken_by_an_invalidation_is_not_kept) {
  ManualClock t;
  CallerCache cache(config(100), t.clock());
  auto before = cache.generation("a");  // a lookup asks the store...
  cache.erase("a");                     // ...while a logout ends the session
  cache.put("a", caller(1), kStart, before);
  BOOST_TEST(!cache.find("a").caller);
  before = cache.generation("a");  // the same when a whole user is forgotten
  cache.erase_if([](const CachedCaller&) { return true; });
  cache.put("a", caller(1), kStart, before);
  BOOST_TEST(!cache.find("a").caller);
  before = cache.generation("a");  // dropping what the store no longer knows is no invalidation
  cache.drop("b");
  cache.put("a", caller(1), kStart, before);
  BOOST_TEST(cache.find("a").caller != nullptr);
}

namespace {
// An AuthService over a real store, with marie (elu) and olga (operator).
struct Service {
  TempDir dir;
  SqliteStore store{dir.path() + "/db.sqlite", 2};
  BlockingPool pool{1};
  boost::asio::io_context io;
  std::unique_ptr<AuthService> auth;

  Service() {
    run(store.migrate("core", core_migrations()));
    AuthConfig config;
    config.secret_key = std::string(43, 'A');
    config.session_cache_ttl = 3600s;  // only invalidation may end an entry here
    auth = std::make_unique<AuthService>(store, pool, config, false);
    for (const auto& [name, role] : {std::pair{"marie", "elu"}, std::pair{"olga", "operator"}})
      run(auth->accounts().create({name, "correct horse battery", name, "", {role}, "49007", ""}));
  }

  static IncomingRequest with(const std::string& header, const std::string& value) {
    IncomingRequest in;
    in.method = "GET";
    in.target = "/api/me";
    in.headers = {{header, value}};
    return in;
  }
  std::optional<std::optional<AuthContext>> now(const IncomingRequest& in) {
    return auth->authenticate_now(in, io.get_executor());
  }
  std::string login(const std::string& name) {
    auto account = run(auth->accounts().find_by_username(name));
    BOOST_REQUIRE(account.has_value());
    const std::string set_cookie = run(auth->open_session(*account, "local"));
    return set_cookie.substr(0, set_cookie.find(';'));
  }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(a_known_session_is_answered_from_memory_until_logout, Service) {
  const auto in = with("cookie", login("marie"));
  BOOST_TEST(!now(in).has_value());  // unknown yet: the store is asked
  auto first = run(auth->authenticate(in));
  BOOST_TEST_REQUIRE(first.has_value());
  auto known = now(in);
  BOOST_TEST_REQUIRE(known.has_value());
  BOOST_TEST_REQUIRE(known->has_value());
  BOOST_TEST((*known)->identity.subject == first->identity.subject);
  BOOST_TEST((*known)->session_cookie == first->session_cookie);
  BOOST_TEST((*known)->session->csrf_token == first->session->csrf_token);

  run(auth->sessions().destroy(first->session_cookie));
  BOOST_TEST(!now(in).has_value());
  BOOST_TEST(!run(auth->authenticate(in)).has_value());

  // Anonymous and malformed callers are answered at once too.
  auto anonymous = now(IncomingRequest{});
  BOOST_TEST_REQUIRE(anonymous.has_value());
  BOOST_TEST(!anonymous->has_value());
  auto malformed = now(with("cookie", "__Host-passerelle=short"));
  BOOST_TEST_REQUIRE(malformed.has_value());
  BOOST_TEST(!malformed->has_value());
}

BOOST_FIXTURE_TEST_CASE(closing_sessions_or_changing_an_account_ends_its_entries, Service) {
  const auto laptop = with("cookie", login("marie"));
  const auto phone = with("cookie", login("marie"));
  BOOST_TEST_REQUIRE(run(auth->authenticate(laptop)).has_value());
  BOOST_TEST_REQUIRE(run(auth->authenticate(phone)).has_value());
  const auto user_id = run(auth->authenticate(phone))->user_id;
  const std::string phone_value = phone.headers[0].second.substr(sizeof("__Host-passerelle"));
  BOOST_TEST_REQUIRE(
      run(auth->sessions().destroy_by_public_id(user_id, Sessions::public_id(phone_value))));
  BOOST_TEST(!now(phone).has_value());
  BOOST_TEST(now(laptop).has_value());

  run(auth->accounts().set_roles("marie", {"agent"}));
  BOOST_TEST(!now(laptop).has_value());
  auto again = run(auth->authenticate(laptop));
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(again->identity.has_role("agent"));
  BOOST_TEST(!again->identity.has_role("elu"));

  run(auth->accounts().set_enabled("marie", false));
  BOOST_TEST(!now(laptop).has_value());
  BOOST_TEST(!run(auth->authenticate(laptop)).has_value());
}

BOOST_FIXTURE_TEST_CASE(the_last_use_is_written_in_the_background_and_never_back_in_time, Service) {
  const auto in = with("cookie", login("marie"));
  auto ctx = run(auth->authenticate(in));
  BOOST_TEST_REQUIRE(ctx.has_value());
  const std::string id_hash = auth::sha256_hex(ctx->session_cookie);
  const std::int64_t created = run(auth->sessions().list_for_user(ctx->user_id)).at(0).last_seen;
  auth->sessions().touch_later(io.get_executor(), id_hash, created + 90);
  io.run();  // returns once the write is done
  BOOST_TEST(run(auth->sessions().list_for_user(ctx->user_id)).at(0).last_seen == created + 90);
  io.restart();
  auth->sessions().touch_later(io.get_executor(), id_hash, created + 30);
  io.run();
  BOOST_TEST(run(auth->sessions().list_for_user(ctx->user_id)).at(0).last_seen == created + 90);
}

BOOST_FIXTURE_TEST_CASE(a_revoked_token_is_refused_at_once, Service) {
  const std::string token = run(auth->tokens().create("olga", "ci"));
  const auto in = with("authorization", "Bearer " + token);
  auto first = run(auth->authenticate(in));
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(first->identity.has_role("operator"));
  auto known = now(in);
  BOOST_TEST_REQUIRE(known.has_value());
  BOOST_TEST_REQUIRE(known->has_value());
  BOOST_TEST(!(*known)->via_cookie);

  BOOST_TEST(run(auth->tokens().revoke(run(auth->tokens().list()).at(0).id)));
  BOOST_TEST(!now(in).has_value());
  BOOST_TEST(!run(auth->authenticate(in)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
