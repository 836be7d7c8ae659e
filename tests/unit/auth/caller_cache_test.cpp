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

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

using namespace passerelle;
using namespace std::chrono_literals;
using passerelle::test::run;
using passerelle::test::TempDir;

namespace {

constexpr std::int64_t kStart = 1'800'000'000;  // epoch seconds

// A clock the test moves by hand (never while another thread reads it).
struct ManualClock final : CallerClock {
  std::chrono::milliseconds at{std::chrono::seconds(kStart)};
  std::chrono::milliseconds now() const override { return at; }
  void advance(std::chrono::milliseconds by) { at += by; }
  std::int64_t seconds() const { return at.count() / 1000; }
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

std::shared_ptr<CachedCaller> federated(std::int64_t user_id, const std::string& provider,
                                        const std::string& sid, const std::string& sub) {
  auto c = caller(user_id, "");
  SessionRecord session;
  session.provider = provider;
  session.oidc.sid = sid;
  session.oidc.sub = sub;
  c->context.session = std::make_shared<const SessionRecord>(std::move(session));
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
  cache.put(key, std::move(c), stored_last_seen, cache.sequence());
}

// A thread that runs the jobs it is given one at a time, in order. Waiting for a job's result
// orders it after what the test did before and before what it does next: no sleep needed.
// Assertions stay on the test's thread (Boost.Test's are not thread-safe): jobs return values.
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  template <class F>
  auto post(F f) {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto result = task->get_future();
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back([task] { (*task)(); });
    }
    wake_.notify_one();
    return result;
  }
  template <class F>
  auto on(F f) {
    return post(std::move(f)).get();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace

BOOST_AUTO_TEST_SUITE(caller_cache)

BOOST_AUTO_TEST_CASE(a_hit_gives_what_the_store_said_and_a_miss_nothing) {
  ManualClock t;
  CallerCache cache(config(100), &t);
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
  CallerCache cache(config(3), &t);
  for (const char* key : {"a", "b", "c"}) put(cache, key, caller(1));
  BOOST_TEST(cache.find("a").caller != nullptr);  // now "b" is the least recently used
  put(cache, "d", caller(1));
  BOOST_TEST(cache.size() == 3u);
  BOOST_TEST(!cache.find("b").caller);
  for (const char* key : {"a", "c", "d"}) BOOST_TEST(cache.find(key).caller != nullptr);

  CallerCache sharded(config(1000), &t);
  for (int i = 0; i < 5000; ++i) put(sharded, "key-" + std::to_string(i), caller(i));
  BOOST_TEST(sharded.size() <= 1000u);
  BOOST_TEST(sharded.size() >= 900u);  // every shard full, give or take the rounding
  BOOST_TEST(sharded.find("key-4999").caller != nullptr);
}

BOOST_AUTO_TEST_CASE(no_entries_means_no_cache) {
  ManualClock t;
  CallerCache cache(config(0), &t);
  BOOST_TEST(!cache.enabled());
  put(cache, "a", caller(1));
  BOOST_TEST(!cache.find("a").caller);
  BOOST_TEST(cache.size() == 0u);
}

BOOST_AUTO_TEST_CASE(after_the_ttl_the_store_is_asked_again_with_the_last_use_known) {
  ManualClock t;
  CallerCache cache(config(10, 5s), &t);
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
  CallerCache cache(config(10, 3600s, 60s, 0s), &t);
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
  CallerCache cache(config(10, 3600s, 60s, 300s), &t);
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
  CallerCache cache(config(10, 3600s, 3600s, 0s), &t);
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

BOOST_AUTO_TEST_CASE(invalidation_is_immediate_by_key_user_name_token_or_federated_login) {
  ManualClock t;
  CallerCaches caches(config(100), config(100), &t);
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
  caches.tokens.forget_token(8);
  BOOST_TEST(caches.tokens.find("t9").caller != nullptr);
  caches.tokens.forget_token(9);
  BOOST_TEST(!caches.tokens.find("t9").caller);

  // Back-channel logout names the provider's session, its subject, or both.
  put(caches.sessions, "f1", federated(3, "keycloak", "sid-1", "sub-3"));
  put(caches.sessions, "f2", federated(4, "keycloak", "sid-2", "sub-4"));
  put(caches.sessions, "f3", federated(4, "proconnect", "sid-2", "sub-4"));
  caches.sessions.forget_federated("keycloak", "sid-1", "");
  BOOST_TEST(!caches.sessions.find("f1").caller);
  BOOST_TEST(caches.sessions.find("f2").caller != nullptr);
  caches.sessions.forget_federated("keycloak", "", "sub-4");
  BOOST_TEST(!caches.sessions.find("f2").caller);
  BOOST_TEST(caches.sessions.find("f3").caller != nullptr);  // another provider's
  caches.sessions.forget_federated("proconnect", "sid-2", "sub-4");
  BOOST_TEST(!caches.sessions.find("f3").caller);
}

BOOST_AUTO_TEST_CASE(a_fill_overtaken_by_an_invalidation_is_not_kept) {
  ManualClock t;
  CallerCache cache(config(100), &t);
  auto before = cache.sequence();  // a lookup asks the store...
  cache.erase("a");                // ...while a logout ends the session
  cache.put("a", caller(1), kStart, before);
  BOOST_TEST(!cache.find("a").caller);
  before = cache.sequence();  // the same when a whole user is forgotten
  cache.forget_user(1);
  cache.put("a", caller(1), kStart, before);
  BOOST_TEST(!cache.find("a").caller);
  before = cache.sequence();  // dropping what the store no longer knows is no invalidation
  cache.drop("b");
  cache.put("a", caller(1), kStart, before);
  BOOST_TEST(cache.find("a").caller != nullptr);
}

BOOST_AUTO_TEST_CASE(each_thread_keeps_its_own_callers) {
  ManualClock t;
  CallerCache cache(config(100), &t);
  Worker b;
  b.on([&] { put(cache, "a", caller(1)); });
  BOOST_TEST(b.on([&] { return cache.find("a").caller != nullptr; }));
  BOOST_TEST(!cache.find("a").caller);  // this thread never asked the store for it
  put(cache, "a", caller(1));
  BOOST_TEST(cache.find("a").caller != nullptr);
  BOOST_TEST(cache.size() == 2u);
}

BOOST_AUTO_TEST_CASE(max_entries_is_shared_out_among_the_threads) {
  ManualClock t;
  CallerCache cache(config(100), &t);
  Worker b;
  for (int i = 0; i < 100; ++i) put(cache, "a" + std::to_string(i), caller(1));
  BOOST_TEST(cache.size() == 100u);
  b.on([&] {
    for (int i = 0; i < 100; ++i) put(cache, "b" + std::to_string(i), caller(1));
  });
  put(cache, "a-last", caller(1));  // this thread's LRU shrinks to its half
  BOOST_TEST(cache.size() == 100u);
  BOOST_TEST(cache.find("a-last").caller != nullptr);
  BOOST_TEST(cache.find("a99").caller != nullptr);
  BOOST_TEST(!cache.find("a0").caller);
}

BOOST_AUTO_TEST_CASE(an_invalidation_on_one_thread_is_seen_by_the_next_find_on_another) {
  ManualClock t;
  CallerCaches caches(config(100), config(100), &t);
  Worker b;
  auto token = caller(2, "olga");
  token->token_id = 9;
  b.on([&] {
    put(caches.sessions, "s1", caller(1, "marie"));
    put(caches.sessions, "s2", caller(1, "marie"));
    put(caches.sessions, "s3", caller(2, "olga"));
    put(caches.sessions, "s4", caller(3, "paul"));
    put(caches.sessions, "f1", federated(5, "keycloak", "sid-1", "sub-5"));
    put(caches.tokens, "t9", token);
  });
  auto known = [&](CallerCache& cache, const char* key) {
    return b.on([&] { return cache.find(key).caller != nullptr; });
  };
  BOOST_TEST(known(caches.sessions, "s1"));

  caches.sessions.erase("s1");  // this thread: a logout
  BOOST_TEST(!known(caches.sessions, "s1"));
  BOOST_TEST(known(caches.sessions, "s2"));
  caches.forget_user(1);
  BOOST_TEST(!known(caches.sessions, "s2"));
  BOOST_TEST(known(caches.sessions, "s3"));
  caches.tokens.forget_token(9);
  BOOST_TEST(!known(caches.tokens, "t9"));
  BOOST_TEST(known(caches.sessions, "s3"));
  caches.forget_username("olga");
  BOOST_TEST(!known(caches.sessions, "s3"));
  caches.sessions.forget_federated("keycloak", "", "sub-5");
  BOOST_TEST(!known(caches.sessions, "f1"));
  BOOST_TEST(known(caches.sessions, "s4"));  // untouched all along
}

// A browser's connections land on different threads: its session stays alive as long as any
// of them is used, and the store hears of the latest use.
BOOST_AUTO_TEST_CASE(the_idle_timeout_counts_from_the_last_use_on_any_thread) {
  ManualClock t;
  CallerCache cache(config(10, 3600s, 60s, 0s), &t);
  Worker b;
  put(cache, "a", caller(1));
  b.on([&] { put(cache, "a", caller(1)); });
  for (int i = 0; i < 3; ++i) {  // used on B only, every 50 s
    t.advance(50s);
    BOOST_TEST_REQUIRE(b.on([&] { return cache.find("a").caller != nullptr; }));
  }
  const std::int64_t used = t.seconds();
  t.advance(30s);  // 180 s since this thread used it, 30 s since B did
  BOOST_TEST(cache.find("a").caller != nullptr);
  Worker c;  // a thread that never had it tells the store of the latest use
  BOOST_TEST(c.on([&] { return cache.find("a").last_seen; }) == used + 30);
  t.advance(61s);
  auto miss = b.on([&] { return cache.find("a"); });
  BOOST_TEST(!miss.caller);
  BOOST_TEST(miss.last_seen == used + 30);
}

BOOST_AUTO_TEST_CASE(a_fill_on_one_thread_overtaken_by_an_invalidation_on_another_is_not_kept) {
  ManualClock t;
  CallerCache cache(config(100), &t);
  Worker b;
  // B asks the store about "a" (user 1) and "b" (user 2); meanwhile this thread logs "a" out.
  const std::uint64_t before = b.on([&] { return cache.sequence(); });
  cache.erase("a");
  cache.erase("unrelated");
  b.on([&] {
    cache.put("a", caller(1), kStart, before);
    cache.put("b", caller(2), kStart, before);
  });
  BOOST_TEST(!b.on([&] { return cache.find("a").caller != nullptr; }));
  BOOST_TEST(b.on([&] { return cache.find("b").caller != nullptr; }));  // not concerned

  // The same when the user is forgotten, and for an answer read before on another thread.
  const std::uint64_t again = cache.sequence();
  cache.forget_user(1);
  b.on([&] {
    cache.put("c", caller(1), kStart, again);
    cache.put("d", caller(2), kStart, again);
  });
  BOOST_TEST(!b.on([&] { return cache.find("c").caller != nullptr; }));
  BOOST_TEST(b.on([&] { return cache.find("d").caller != nullptr; }));
}

BOOST_AUTO_TEST_CASE(a_thread_lapped_by_invalidations_forgets_everything_and_hits_nothing_stale) {
  ManualClock t;
  CallerCache cache(config(100), &t);
  Worker b;
  b.on([&] {
    put(cache, "a", caller(1));
    put(cache, "b", caller(2));
  });
  // More invalidations than the ring holds, "a" among the first: B can no longer read that one.
  cache.erase("a");
  for (std::size_t i = 0; i < CallerCache::kRingSize + 10; ++i)
    cache.erase("other-" + std::to_string(i));
  BOOST_TEST(cache.size() == 2u);  // B has not looked yet
  BOOST_TEST(!b.on([&] { return cache.find("a").caller != nullptr; }));
  BOOST_TEST(!b.on([&] { return cache.find("b").caller != nullptr; }));  // forgotten too: safe
  BOOST_TEST(cache.size() == 0u);
  b.on([&] { put(cache, "b", caller(2)); });  // filled again from the store
  BOOST_TEST(b.on([&] { return cache.find("b").caller != nullptr; }));

  // A fill that began before so many invalidations cannot be checked: refused.
  const std::uint64_t before = cache.sequence();
  for (std::size_t i = 0; i < CallerCache::kRingSize; ++i) cache.erase("more-" + std::to_string(i));
  b.on([&] { cache.put("c", caller(3), kStart, before); });
  BOOST_TEST(!b.on([&] { return cache.find("c").caller != nullptr; }));
}

// Threads filling and reading while another invalidates: no crash nor race (run it under
// TSan), and once the invalidations are published, no thread finds a caller they concern.
BOOST_AUTO_TEST_CASE(threads_filling_while_another_invalidates_end_with_nothing_stale) {
  CallerCache cache(config(64, 3600s, 3600s, 0s));  // with an idle timeout: the last-use table
  constexpr int kKeys = 48;
  constexpr int kRounds = 20000;
  auto fill = [&cache] {
    int hits = 0;
    for (int i = 0; i < kRounds; ++i) {
      const std::string key = "k" + std::to_string(i % kKeys);
      const std::uint64_t since = cache.sequence();
      cache.put(key, caller(i % 4), 0, since);
      if (cache.find(key).caller) ++hits;
    }
    return hits;
  };
  Worker b;
  Worker c;
  auto b_done = b.post(fill);
  auto c_done = c.post(fill);
  for (int i = 0; i < 3000; ++i) {
    if (i % 3 == 0)
      cache.erase("k" + std::to_string(i % kKeys));
    else
      cache.forget_user(i % 4);
  }
  b_done.get();
  c_done.get();
  for (int user = 0; user < 4; ++user) cache.forget_user(user);
  auto any_left = [&cache] {
    int found = 0;
    for (int k = 0; k < kKeys; ++k)
      if (cache.find("k" + std::to_string(k)).caller) ++found;
    return found;
  };
  BOOST_TEST(b.on(any_left) == 0);
  BOOST_TEST(c.on(any_left) == 0);
  BOOST_TEST(cache.size() <= 64u);
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

BOOST_FIXTURE_TEST_CASE(a_logout_on_one_thread_ends_the_session_on_every_other, Service) {
  const auto in = with("cookie", login("marie"));
  Worker b;
  auto on_b = [&] { return b.on([&] { return now(in).has_value(); }); };
  BOOST_TEST_REQUIRE(b.on([&] { return run(auth->authenticate(in)).has_value(); }));
  BOOST_TEST(on_b());                // B answers it from memory
  BOOST_TEST(!now(in).has_value());  // this thread has not asked the store yet
  BOOST_TEST_REQUIRE(run(auth->authenticate(in)).has_value());
  BOOST_TEST(now(in).has_value());

  const std::string cookie = in.headers[0].second.substr(sizeof("__Host-passerelle"));
  run(auth->sessions().destroy(cookie));  // logout handled here
  BOOST_TEST(!on_b());                    // B's next request asks the store...
  BOOST_TEST(!b.on([&] { return run(auth->authenticate(in)).has_value(); }));  // ...which says no
  BOOST_TEST(!now(in).has_value());
}

// The provider's refresh token "never leaves the server" and is sealed in the store: a copy in
// clear, kept in memory for as long as the session is known and copied into every request's
// context, is exactly what the sealing avoids. Nothing on the request path reads it.
BOOST_FIXTURE_TEST_CASE(a_known_session_keeps_no_provider_refresh_token_in_memory, Service) {
  auto account = run(auth->accounts().find_by_username("marie"));
  BOOST_REQUIRE(account.has_value());
  const OidcSessionInfo info{"sid-1", "sub-1", "header.payload.signature", "refresh-secret"};
  const std::string set_cookie = run(auth->open_session(*account, "keycloak", &info));
  const auto in = with("cookie", set_cookie.substr(0, set_cookie.find(';')));
  auto ctx = run(auth->authenticate(in));
  BOOST_TEST_REQUIRE(ctx.has_value());
  BOOST_TEST_REQUIRE(ctx->session != nullptr);
  BOOST_TEST(ctx->session->oidc.refresh_token.empty());
  // Still there for RP-initiated logout (it goes to the provider through the browser anyway).
  BOOST_TEST(ctx->session->oidc.id_token == "header.payload.signature");
  auto kept = auth->caches().sessions.find(auth::sha256_hex(ctx->session_cookie));
  BOOST_TEST_REQUIRE(kept.caller != nullptr);
  BOOST_TEST(kept.caller->context.session->oidc.refresh_token.empty());
  BOOST_TEST(kept.caller->context.session_cookie.empty());
}

BOOST_AUTO_TEST_SUITE_END()
