// An asynchronous mutex for plugin coroutines: a write that must see every earlier write waits
// its turn instead of being refused, and waiting holds no thread.
#pragma once

#include "passerelle/task.hpp"

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace passerelle {

/// Mutual exclusion between coroutines, first come first served, safe across I/O threads.
/// Typical use: a plugin checks what is stored ("no other directorate covers this department")
/// then writes; holding the lock across both keeps two requests from passing the same check.
/// Hold it briefly, and never while waiting for another request.
///
///     AsyncMutex::Lock lock = co_await writes_.lock();
///     ... read, check, write ...
///     // released when `lock` goes out of scope, on success or exception
class AsyncMutex {
 public:
  /// Ownership of the mutex; releases it when destroyed.
  class Lock {
   public:
    Lock(Lock&& other) noexcept : mutex_(std::exchange(other.mutex_, nullptr)) {}
    Lock& operator=(Lock&&) = delete;
    ~Lock() {
      if (mutex_) mutex_->unlock();
    }

   private:
    friend class AsyncMutex;
    explicit Lock(AsyncMutex* mutex) : mutex_(mutex) {}
    AsyncMutex* mutex_;
  };

  /// Waits for the mutex. A caller cancelled while waiting (its deadline passed) gets an
  /// exception and leaves its place to the next one.
  Task<Lock> lock() {
    const boost::system::error_code no_error;  // named: see the g++ 12 note in README.md
    co_await turn_.async_send(no_error, boost::asio::use_awaitable);
    co_return Lock(this);
  }

 private:
  void unlock() {
    turn_.try_receive([](boost::system::error_code) {});
  }

  // One slot: the send that fills it holds the mutex; later sends wait, in order, until the
  // holder empties the slot.
  boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> turn_{
      boost::asio::system_executor(), 1};
};

}  // namespace passerelle
