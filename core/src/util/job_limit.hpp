// A bound on the jobs of one kind given to the blocking pool, kept apart from the pool so that
// headers holding one need not include Asio.
#pragma once

#include <atomic>
#include <cstddef>
#include <stdexcept>

namespace passerelle {

/// A job refused because its JobLimit was full; the caller answers "try again shortly".
class PoolFull : public std::runtime_error {
 public:
  PoolFull() : std::runtime_error("the blocking pool is full") {}
};

/// How many jobs of one kind may wait or run at once (e.g. password checks): a flood of them
/// then costs a quick refusal instead of an ever longer queue that delays every other caller.
/// Lock-free: it sits on the request path.
class JobLimit {
 public:
  explicit JobLimit(std::size_t max) : max_(max) {}
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  std::size_t max() const { return max_; }

  bool try_acquire() {
    std::size_t n = pending_.load(std::memory_order_relaxed);
    do {
      if (n >= max_) return false;
    } while (!pending_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  void release() { pending_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  const std::size_t max_;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace passerelle
