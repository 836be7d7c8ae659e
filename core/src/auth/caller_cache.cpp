// Per-thread LRUs of resolved callers, invalidated through a ring of atomics; expiry and
// staleness are checked on every hit.
#include "auth/caller_cache.hpp"

#include <charconv>

#include <algorithm>
#include <functional>

namespace passerelle {

namespace {
// The store learns of a session's use at most once a minute (per thread that sees it):
// precise enough for timeouts counted in minutes, and no write per request.
constexpr std::int64_t kWriteEvery = 60;
// Cells of the last-use table: max_entries rounded up, within these bounds (8 bytes each).
constexpr std::size_t kMinUses = 64;
constexpr std::size_t kMaxUses = std::size_t{1} << 16;

// Which LRU a thread uses for each cache it has met. Plain data, so that reaching it costs no
// initialisation check; an entry pushed out (a thread meeting more caches than this) is found
// again, under the cache's registration lock, by the thread's serial number.
struct ThreadEntry {
  std::uint64_t cache;  // 0: free
  void* shard;
};
constexpr std::size_t kThreadEntries = 8;
thread_local ThreadEntry t_entries[kThreadEntries];
thread_local std::size_t t_next_entry;
thread_local std::uint64_t t_serial;  // 0 until the thread first meets a cache

// Never reused, unlike std::thread::id or an address: a stale entry matches nothing.
std::atomic<std::uint64_t> g_next_cache{1};
std::atomic<std::uint64_t> g_next_thread{1};

std::uint64_t hash_of(std::string_view s) { return std::hash<std::string_view>{}(s); }

std::uint64_t hash_of(std::string_view a, std::string_view b) {
  const std::uint64_t h = hash_of(a);
  return h ^ (hash_of(b) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

CallerCache::CallerCache(CallerCacheConfig config, const CallerClock* clock)
    : config_(config), clock_(clock), id_(g_next_cache.fetch_add(1)) {
  if (!enabled() || config_.idle_timeout.count() == 0) return;
  std::size_t cells = kMinUses;
  while (cells < config_.max_entries && cells < kMaxUses) cells *= 2;
  uses_ = std::make_unique<std::atomic<std::uint64_t>[]>(cells);
  for (std::size_t i = 0; i < cells; ++i) uses_[i].store(0, std::memory_order_relaxed);
  uses_mask_ = cells - 1;
}

CallerCache::~CallerCache() = default;

std::int64_t CallerCache::now_ms() const {
  return clock_ ? clock_->now().count() : system_now_ms();
}

// Relaxed: a time, not a publication of anything else.
std::int64_t CallerCache::last_use(std::uint64_t key_hash) const {
  if (!uses_) return 0;
  const std::uint64_t cell = uses_[key_hash & uses_mask_].load(std::memory_order_relaxed);
  return (cell >> 32) == (key_hash >> 32) ? static_cast<std::int64_t>(cell & 0xffffffffU) : 0;
}

void CallerCache::note_use(std::uint64_t key_hash, std::int64_t seconds) {
  if (!uses_) return;
  std::atomic<std::uint64_t>& cell = uses_[key_hash & uses_mask_];
  const std::uint64_t tag = key_hash >> 32;
  const std::uint64_t noted = (tag << 32) | (static_cast<std::uint64_t>(seconds) & 0xffffffffU);
  std::uint64_t seen = cell.load(std::memory_order_relaxed);
  do {
    if ((seen >> 32) == tag && static_cast<std::int64_t>(seen & 0xffffffffU) >= seconds) return;
  } while (!cell.compare_exchange_weak(seen, noted, std::memory_order_relaxed));
}

std::size_t CallerCache::per_thread() const {
  const std::size_t threads =
      std::max<std::size_t>(1, shard_count_.load(std::memory_order_relaxed));
  return std::max<std::size_t>(1, config_.max_entries / threads);
}

CallerCache::Shard& CallerCache::local_shard() {
  for (const ThreadEntry& e : t_entries)
    if (e.cache == id_) return *static_cast<Shard*>(e.shard);
  return register_thread();
}

// A thread's first use of this cache (or its entry was pushed out): not the request path once
// warm, so a lock is fine here.
CallerCache::Shard& CallerCache::register_thread() {
  if (t_serial == 0) t_serial = g_next_thread.fetch_add(1);
  Shard* shard = nullptr;
  {
    std::lock_guard lock(threads_);
    for (const auto& s : shards_)
      if (s->owner == t_serial) shard = s.get();
    if (!shard) {
      auto fresh = std::make_unique<Shard>();
      fresh->owner = t_serial;
      fresh->seen = published_.load(std::memory_order_acquire);  // empty: nothing to forget
      shard = fresh.get();
      shards_.push_back(std::move(fresh));
      shard_count_.store(shards_.size(), std::memory_order_relaxed);
    }
  }
  ThreadEntry* entry = nullptr;
  for (ThreadEntry& e : t_entries)
    if (e.cache == 0 && !entry) entry = &e;
  if (!entry) entry = &t_entries[t_next_entry++ % kThreadEntries];
  *entry = {id_, shard};
  return *shard;
}

// A seqlock per record (Boehm, "Can seqlocks get along with programming language memory
// models?"): the stamp is cleared before the fields change and set once they have.
void CallerCache::publish(Kind kind, std::uint64_t value, bool relay) {
  if (relay && relay_)
    relay_(std::to_string(static_cast<std::uint64_t>(kind)) + ":" + std::to_string(value));
  std::lock_guard lock(writers_);
  const std::uint64_t n = published_.load(std::memory_order_relaxed) + 1;
  Record& r = ring_[n % kRingSize];
  r.stamp.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  r.kind.store(static_cast<std::uint64_t>(kind), std::memory_order_relaxed);
  r.value.store(value, std::memory_order_relaxed);
  r.stamp.store(n, std::memory_order_release);
  // Before the caller answers (a logout's response): any request after that sees it.
  published_.store(n, std::memory_order_release);
}

bool CallerCache::read(std::uint64_t n, Invalidation& out) const {
  const Record& r = ring_[n % kRingSize];
  if (r.stamp.load(std::memory_order_acquire) != n) return false;
  const std::uint64_t kind = r.kind.load(std::memory_order_relaxed);
  const std::uint64_t value = r.value.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (r.stamp.load(std::memory_order_relaxed) != n) return false;
  out = {static_cast<Kind>(kind), value};
  return true;
}

bool CallerCache::matches(const Invalidation& i, std::uint64_t key_hash, const Slot& slot) {
  const CachedCaller& c = *slot.caller;
  switch (i.kind) {
    case Kind::key:
      return key_hash == i.value;
    case Kind::user:
      return static_cast<std::uint64_t>(c.context.user_id) == i.value;
    case Kind::username:
      return !c.username.empty() && slot.username_hash == i.value;
    case Kind::token:
      return static_cast<std::uint64_t>(c.token_id) == i.value;
    case Kind::federated_sid:
      return slot.sid_hash != 0 && slot.sid_hash == i.value;
    case Kind::federated_sub:
      return slot.sub_hash != 0 && slot.sub_hash == i.value;
    case Kind::all:
      return true;
  }
  return true;  // a kind this build does not know: forgetting is always safe
}

void CallerCache::remove(Shard& shard, std::unordered_map<std::uint64_t, Slot>::iterator it) {
  shard.order.erase(it->second.order);
  shard.slots.erase(it);
  shard.count.store(shard.slots.size(), std::memory_order_relaxed);
}

void CallerCache::clear(Shard& shard) {
  shard.slots.clear();
  shard.order.clear();
  shard.count.store(0, std::memory_order_relaxed);
}

void CallerCache::catch_up(Shard& shard) {
  const std::uint64_t published = published_.load(std::memory_order_acquire);
  if (published == shard.seen) return;  // the request path's usual case: one load
  if (published - shard.seen >= kRingSize) {
    clear(shard);  // lapped: what was forgotten is gone from the ring
  } else {
    for (std::uint64_t n = shard.seen + 1; n <= published; ++n) {
      Invalidation i;
      if (!read(n, i)) {
        clear(shard);  // overwritten while read
        break;
      }
      if (i.kind == Kind::key) {
        auto it = shard.slots.find(i.value);
        if (it != shard.slots.end()) remove(shard, it);
        continue;
      }
      for (auto it = shard.slots.begin(); it != shard.slots.end();) {
        auto next = std::next(it);
        if (matches(i, it->first, it->second)) remove(shard, it);
        it = next;
      }
    }
  }
  shard.seen = published;
}

CallerCache::Lookup CallerCache::find(const std::string& key) {
  Lookup out;
  if (!enabled()) return out;
  Shard& shard = local_shard();
  catch_up(shard);
  const std::uint64_t key_hash = hash_of(key);
  auto it = shard.slots.find(key_hash);
  if (it == shard.slots.end() || it->second.key != key) {
    out.last_seen = last_use(key_hash);  // another thread may have seen it
    return out;
  }
  const std::int64_t ms = now_ms();
  const std::int64_t now = ms / 1000;
  Slot& slot = it->second;
  const std::int64_t idle = config_.idle_timeout.count();
  // Used on another thread since this one last did: the idle clock counts from that use.
  if (idle > 0 && now - slot.last_seen > idle)
    slot.last_seen = std::max(slot.last_seen, last_use(key_hash));
  out.last_seen = slot.last_seen;
  // The same rules as the store's (auth/sessions.cpp), on the exact last use. An expired or
  // stale entry stays until the store's answer replaces or removes it: what it knows of the
  // idle clock goes with the question.
  const bool expired = (config_.absolute_timeout.count() > 0 &&
                        now - slot.caller->created_at > config_.absolute_timeout.count()) ||
                       (idle > 0 && now - slot.last_seen > idle);
  if (expired || ms - slot.checked_ms >= config_.ttl.count()) return out;
  if (now > slot.last_seen) {
    slot.last_seen = now;
    note_use(key_hash, now);  // once a second at most per session and thread
  }
  if (idle > 0 && slot.last_seen - slot.written >= kWriteEvery) {
    slot.written = slot.last_seen;  // claimed here, so that one request only writes it
    out.write_last_seen = slot.last_seen;
  }
  shard.order.splice(shard.order.begin(), shard.order, slot.order);
  out.caller = slot.caller;
  return out;
}

void CallerCache::put(const std::string& key, std::shared_ptr<const CachedCaller> caller,
                      std::int64_t stored_last_seen, std::uint64_t since) {
  if (!enabled()) return;
  Shard& shard = local_shard();
  catch_up(shard);
  const std::uint64_t key_hash = hash_of(key);
  Slot fresh;
  fresh.key = key;
  fresh.caller = std::move(caller);
  if (!fresh.caller->username.empty()) fresh.username_hash = hash_of(fresh.caller->username);
  if (const auto& s = fresh.caller->context.session) {
    if (!s->oidc.sid.empty()) fresh.sid_hash = hash_of(s->provider, s->oidc.sid);
    if (!s->oidc.sub.empty()) fresh.sub_hash = hash_of(s->provider, s->oidc.sub);
  }
  // The store answered after `since`: an invalidation published since may concern what it
  // said (a logout racing the lookup). Those published later are applied by the next
  // catch_up(), before any find() on this thread.
  const std::uint64_t published = shard.seen;
  if (since < published) {
    if (published - since >= kRingSize) return;  // too many to check
    for (std::uint64_t n = since + 1; n <= published; ++n) {
      Invalidation i;
      if (!read(n, i) || matches(i, key_hash, fresh)) return;
    }
  }
  const std::int64_t ms = now_ms();
  auto it = shard.slots.find(key_hash);
  if (it != shard.slots.end() && it->second.key != key) {
    remove(shard, it);  // another key of the same hash: the newer one stays
    it = shard.slots.end();
  }
  if (it == shard.slots.end()) {
    // Also shrinks an LRU filled before more threads shared max_entries.
    while (!shard.slots.empty() && shard.slots.size() >= per_thread())
      remove(shard, shard.slots.find(shard.order.back()));
    shard.order.push_front(key_hash);
    fresh.order = shard.order.begin();
    it = shard.slots.emplace(key_hash, std::move(fresh)).first;
    shard.count.store(shard.slots.size(), std::memory_order_relaxed);
  } else {
    Slot& slot = it->second;
    slot.caller = std::move(fresh.caller);
    slot.username_hash = fresh.username_hash;
    slot.sid_hash = fresh.sid_hash;
    slot.sub_hash = fresh.sub_hash;
    shard.order.splice(shard.order.begin(), shard.order, slot.order);
  }
  Slot& slot = it->second;
  slot.checked_ms = ms;
  slot.last_seen = std::max(slot.last_seen, ms / 1000);
  slot.written = std::max(slot.written, stored_last_seen);
  note_use(key_hash, slot.last_seen);
}

void CallerCache::erase(const std::string& key) {
  if (enabled()) publish(Kind::key, hash_of(key));
}

void CallerCache::forget_user(std::int64_t user_id) {
  if (enabled()) publish(Kind::user, static_cast<std::uint64_t>(user_id));
}

void CallerCache::forget_username(const std::string& username) {
  if (enabled() && !username.empty()) publish(Kind::username, hash_of(username));
}

void CallerCache::forget_token(std::int64_t token_id) {
  if (enabled()) publish(Kind::token, static_cast<std::uint64_t>(token_id));
}

// Back-Channel Logout names a session by sid, sub or both; by sid alone this may forget a
// session more (one of the same sid, another subject): a lookup more, never a stale hit.
void CallerCache::forget_federated(const std::string& provider, const std::string& sid,
                                   const std::string& sub) {
  if (!enabled()) return;
  if (!sid.empty())
    publish(Kind::federated_sid, hash_of(provider, sid));
  else if (!sub.empty())
    publish(Kind::federated_sub, hash_of(provider, sub));
}

void CallerCache::forget_all() {
  if (enabled()) publish(Kind::all, 0);
}

void CallerCache::apply_relayed(std::string_view message) {
  if (!enabled()) return;
  const auto colon = message.find(':');
  std::uint64_t kind = 0, value = 0;
  const char* end = message.data() + message.size();
  if (colon == std::string_view::npos ||
      std::from_chars(message.data(), message.data() + colon, kind).ec != std::errc() ||
      std::from_chars(message.data() + colon + 1, end, value).ec != std::errc() ||
      kind > static_cast<std::uint64_t>(Kind::all)) {
    publish(Kind::all, 0, false);
    return;
  }
  publish(static_cast<Kind>(kind), value, false);
}

void CallerCache::drop(const std::string& key) {
  if (!enabled()) return;
  Shard& shard = local_shard();
  auto it = shard.slots.find(hash_of(key));
  if (it != shard.slots.end() && it->second.key == key) remove(shard, it);
}

std::size_t CallerCache::size() const {
  std::lock_guard lock(threads_);
  std::size_t n = 0;
  for (const auto& shard : shards_) n += shard->count.load(std::memory_order_relaxed);
  return n;
}

void CallerCaches::forget_user(std::int64_t user_id) {
  sessions.forget_user(user_id);
  tokens.forget_user(user_id);
}

void CallerCaches::forget_username(const std::string& username) {
  sessions.forget_username(username);
  tokens.forget_username(username);
}

void CallerCaches::relay_through(std::function<void(const std::string&)> send) {
  sessions.set_relay([send](const std::string& m) { send("s" + m); });
  tokens.set_relay([send](const std::string& m) { send("t" + m); });
}

void CallerCaches::apply_relayed(std::string_view message) {
  if (!message.empty() && message[0] == 's') return sessions.apply_relayed(message.substr(1));
  if (!message.empty() && message[0] == 't') return tokens.apply_relayed(message.substr(1));
  // "*", or a message this build does not read: each forgets everything, relaying nothing.
  sessions.apply_relayed("*");
  tokens.apply_relayed("*");
}

}  // namespace passerelle
