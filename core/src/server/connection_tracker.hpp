// Counts live connections, in all and per client address, and lets shutdown (or a server near
// its connection limit) close the idle ones; each connection registers a closer that runs on
// its own executor.
#pragma once

#include "util/heap_trim.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace passerelle {

class ConnectionTracker {
 public:
  struct Limits {
    std::size_t total = 10'000;
    std::size_t per_address = 256;
    /// From this many connections on, each new one first asks idle keep-alive connections to
    /// close, so that active clients keep their place and new ones still get in.
    std::size_t reclaim_from = 9'000;
  };
  /// What a connection registers: how to close it, and whether it waits between requests.
  struct Entry {
    std::string address;  // empty: not capped per address (a trusted load balancer)
    std::shared_ptr<const std::atomic<bool>> idle;
    std::function<void(bool force)> close;
  };

  ConnectionTracker() = default;
  explicit ConnectionTracker(Limits limits) : limits_(limits) {}

  /// Registers a connection, or refuses it (nothing) when the address or the server is at its
  /// limit. `close(force)` is called with false to close it if idle (shutdown, reclaiming) and
  /// with true when the grace period is over (close whatever it is doing).
  std::optional<std::uint64_t> add(Entry entry) {
    std::lock_guard lock(mutex_);
    std::size_t unlimited = 0;
    auto& from_address = entry.address.empty() ? unlimited : per_address_[entry.address];
    if ((!entry.address.empty() && from_address >= limits_.per_address) ||
        closers_.size() >= limits_.total) {
      if (from_address == 0 && !entry.address.empty()) per_address_.erase(entry.address);
      if (closers_.size() >= limits_.total) reclaim_idle(2);
      return std::nullopt;
    }
    if (closers_.size() >= limits_.reclaim_from) reclaim_idle(1);
    ++from_address;
    const auto id = next_++;
    closers_.emplace(id, std::move(entry));
    burst_.opened(closers_.size());
    return id;
  }
  void remove(std::uint64_t id) {
    bool burst_ended = false;
    {
      std::lock_guard lock(mutex_);
      auto it = closers_.find(id);
      if (it == closers_.end()) return;
      auto count =
          it->second.address.empty() ? per_address_.end() : per_address_.find(it->second.address);
      if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
      closers_.erase(it);
      burst_ended = on_burst_end_ && burst_.closed(closers_.size(), now_);
    }
    if (burst_ended) on_burst_end_();
  }

  /// Called (on the closing connection's thread, outside the tracker's lock) when the open
  /// connections have just fallen to half of their peak (BurstEndDetector): the moment to give
  /// the burst's memory back. Set once, before connections come; it must return at once.
  void on_burst_end(
      BurstEndDetector detector, std::function<void()> callback,
      std::function<BurstEndDetector::Clock::time_point()> now = BurstEndDetector::Clock::now) {
    std::lock_guard lock(mutex_);
    burst_ = detector;
    on_burst_end_ = std::move(callback);
    now_ = std::move(now);
  }
  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return closers_.size();
  }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

  /// Marks shutdown and asks every idle connection to close.
  void begin_shutdown() {
    stopping_ = true;
    std::lock_guard lock(mutex_);
    for (auto& [id, entry] : closers_) entry.close(false);
  }

  /// Closes every connection still open.
  void close_all() {
    std::lock_guard lock(mutex_);
    for (auto& [id, entry] : closers_) entry.close(true);
  }

 private:
  // Asks up to `n` idle connections to close; they leave on their own executors. Called with
  // the mutex held. The scan starts where the last one stopped, so that the same connections
  // are not asked again and again.
  void reclaim_idle(std::size_t n) {
    std::size_t asked = 0, looked = 0;
    auto it = closers_.lower_bound(reclaim_cursor_);
    while (asked < n && looked++ < closers_.size()) {
      if (it == closers_.end()) it = closers_.begin();
      if (it->second.idle->load(std::memory_order_relaxed)) {
        it->second.close(false);
        ++asked;
      }
      reclaim_cursor_ = it->first + 1;
      ++it;
    }
  }

  Limits limits_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, Entry> closers_;  // by id: oldest first
  std::unordered_map<std::string, std::size_t> per_address_;
  std::uint64_t next_ = 1;  // 0 is never an id
  std::uint64_t reclaim_cursor_ = 0;
  std::atomic<bool> stopping_{false};
  BurstEndDetector burst_{0, {}};
  std::function<void()> on_burst_end_;
  std::function<BurstEndDetector::Clock::time_point()> now_;
};

}  // namespace passerelle
