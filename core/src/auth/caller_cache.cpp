// Sharded LRU of resolved callers; expiry and staleness are checked on every hit.
#include "auth/caller_cache.hpp"

#include <algorithm>

namespace passerelle {

namespace {
// The store learns of a session's use at most once a minute: precise enough for timeouts
// counted in minutes, and no write per request.
constexpr std::int64_t kWriteEvery = 60;
constexpr std::size_t kMaxShards = 16;
constexpr std::size_t kMinPerShard = 256;  // small caches keep one exact LRU

std::chrono::milliseconds system_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
}
}  // namespace

CallerCache::CallerCache(CallerCacheConfig config, Clock clock)
    : config_(config), clock_(clock ? std::move(clock) : Clock(system_now)) {
  if (config_.max_entries == 0) return;
  const std::size_t shards =
      std::clamp<std::size_t>(config_.max_entries / kMinPerShard, 1, kMaxShards);
  per_shard_ = config_.max_entries / shards;  // so that the total stays within max_entries
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

std::int64_t CallerCache::now_ms() const { return clock_().count(); }
std::int64_t CallerCache::now_seconds() const { return now_ms() / 1000; }

CallerCache::Shard& CallerCache::shard_of(const std::string& key) const {
  return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

std::uint64_t CallerCache::generation(const std::string& key) const {
  return enabled() ? shard_of(key).generation.load() : 0;
}

CallerCache::Lookup CallerCache::find(const std::string& key) {
  Lookup out;
  if (!enabled()) return out;
  const std::int64_t ms = now_ms();
  const std::int64_t now = ms / 1000;
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.slots.find(key);
  if (it == shard.slots.end()) return out;
  Slot& slot = it->second;
  out.last_seen = slot.last_seen;
  // The same rules as the store's (auth/sessions.cpp), on the exact last use. An expired or
  // stale entry stays until the store's answer replaces or removes it: what it knows of the
  // idle clock goes with the question.
  const bool expired =
      (config_.absolute_timeout.count() > 0 &&
       now - slot.caller->created_at > config_.absolute_timeout.count()) ||
      (config_.idle_timeout.count() > 0 && now - slot.last_seen > config_.idle_timeout.count());
  if (expired || ms - slot.checked_ms >= config_.ttl.count()) return out;
  slot.last_seen = std::max(slot.last_seen, now);
  if (config_.idle_timeout.count() > 0 && slot.last_seen - slot.written >= kWriteEvery) {
    slot.written = slot.last_seen;  // claimed here, so that one request only writes it
    out.write_last_seen = slot.last_seen;
  }
  shard.order.splice(shard.order.begin(), shard.order, slot.order);
  out.caller = slot.caller;
  return out;
}

void CallerCache::put(const std::string& key, std::shared_ptr<const CachedCaller> caller,
                      std::int64_t stored_last_seen, std::uint64_t generation) {
  if (!enabled()) return;
  const std::int64_t ms = now_ms();
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  // Checked under the lock that erase() takes after counting: an invalidation either sees
  // this entry and removes it, or has counted already and this put gives up.
  if (shard.generation.load() != generation) return;
  auto it = shard.slots.find(key);
  if (it == shard.slots.end()) {
    if (shard.slots.size() >= per_shard_) {
      shard.slots.erase(shard.order.back());
      shard.order.pop_back();
    }
    shard.order.push_front(key);
    it = shard.slots.emplace(key, Slot{}).first;
    it->second.order = shard.order.begin();
  } else {
    shard.order.splice(shard.order.begin(), shard.order, it->second.order);
  }
  Slot& slot = it->second;
  slot.caller = std::move(caller);
  slot.checked_ms = ms;
  slot.last_seen = std::max(slot.last_seen, ms / 1000);
  slot.written = std::max(slot.written, stored_last_seen);
}

void CallerCache::remove(Shard& shard, const std::string& key) {
  auto it = shard.slots.find(key);
  if (it == shard.slots.end()) return;
  shard.order.erase(it->second.order);
  shard.slots.erase(it);
}

void CallerCache::erase(const std::string& key) {
  if (!enabled()) return;
  Shard& shard = shard_of(key);
  shard.generation.fetch_add(1);  // counted before the lock: see put()
  std::lock_guard lock(shard.mutex);
  remove(shard, key);
}

void CallerCache::drop(const std::string& key) {
  if (!enabled()) return;
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  remove(shard, key);
}

void CallerCache::erase_if(const std::function<bool(const CachedCaller&)>& match) {
  if (!enabled()) return;
  for (auto& shard : shards_) shard->generation.fetch_add(1);
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (auto it = shard->slots.begin(); it != shard->slots.end();) {
      if (match(*it->second.caller)) {
        shard->order.erase(it->second.order);
        it = shard->slots.erase(it);
      } else {
        ++it;
      }
    }
  }
}

std::size_t CallerCache::size() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    n += shard->slots.size();
  }
  return n;
}

void CallerCaches::forget_user(std::int64_t user_id) {
  auto of_user = [user_id](const CachedCaller& c) { return c.context.user_id == user_id; };
  sessions.erase_if(of_user);
  tokens.erase_if(of_user);
}

void CallerCaches::forget_username(const std::string& username) {
  if (username.empty()) return;
  auto named = [&username](const CachedCaller& c) { return c.username == username; };
  sessions.erase_if(named);
  tokens.erase_if(named);
}

}  // namespace passerelle
