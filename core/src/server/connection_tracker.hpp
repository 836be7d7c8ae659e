// Counts live connections and lets shutdown close the idle ones; each connection registers a
// closer that runs on its own strand.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace passerelle {

class ConnectionTracker {
 public:
  /// Registers a connection; `close(force)` is called with false when shutdown begins (close
  /// if idle) and with true when the grace period is over (close whatever it is doing).
  std::uint64_t add(std::function<void(bool force)> close) {
    std::lock_guard lock(mutex_);
    const auto id = next_++;
    closers_.emplace(id, std::move(close));
    return id;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    closers_.erase(id);
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
    for (auto& [id, close] : closers_) close(false);
  }

  /// Closes every connection still open.
  void close_all() {
    std::lock_guard lock(mutex_);
    for (auto& [id, close] : closers_) close(true);
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::function<void(bool)>> closers_;
  std::uint64_t next_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace passerelle
