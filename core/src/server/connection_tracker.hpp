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
  /// Registers a connection; `close_if_idle` is called once when shutdown begins.
  std::uint64_t add(std::function<void()> close_if_idle) {
    std::lock_guard lock(mutex_);
    const auto id = next_++;
    closers_.emplace(id, std::move(close_if_idle));
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
    for (auto& [id, close] : closers_) close();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::function<void()>> closers_;
  std::uint64_t next_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace passerelle
