// A socket's deadline, as Beast's tcp_stream has, with the timer armed lazily (as nginx's): a
// connection that moves its deadline several times per request touches the timer queue about
// never. Shared by the gateway's TLS connections and its connections to proxied services.
#pragma once

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace passerelle {

class SocketDeadline {
 public:
  using clock = std::chrono::steady_clock;

  /// What a deadline that passes does to the socket.
  enum class OnExpiry {
    cancel,  ///< cancels what is pending: the owner checks timed_out() before each operation
    close,   ///< closes it: every later operation fails too (for code that does not check,
             ///< such as Asio's TLS stream, which reads and writes in several steps)
  };

  /// `socket` must outlive the deadline (declare the deadline after it).
  explicit SocketDeadline(boost::asio::ip::tcp::socket& socket,
                          OnExpiry on_expiry = OnExpiry::cancel)
      : timer_(socket.get_executor()), shared_(std::make_shared<Shared>()) {
    shared_->socket = &socket;
    shared_->timer = &timer_;
    shared_->close = on_expiry == OnExpiry::close;
  }
  ~SocketDeadline() {
    shared_->socket = nullptr;
    shared_->timer = nullptr;
  }
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  /// Every operation on the socket pending then, or started before the deadline, fails once it
  /// passes (OnExpiry) and timed_out() says so. Moving a deadline later only
  /// records it: the armed wait, when it fires, waits again for the rest; only an earlier
  /// deadline re-arms it. `Alloc`: how a wait armed here is allocated (the default: Asio's
  /// per-thread recycling; an exact allocator for a long one, such as a parked connection's).
  template <class Alloc = std::allocator<void>>
  void expires_at(clock::time_point when, Alloc alloc = {}) {
    Shared& s = *shared_;
    s.deadline = when;
    s.timed_out = false;
    if (!s.armed || s.deadline < s.armed_until) arm(shared_, alloc);
  }
  template <class Alloc = std::allocator<void>>
  void expires_after(clock::duration d, Alloc alloc = {}) {
    expires_at(clock::now() + d, alloc);
  }
  void expires_never() {
    shared_->deadline = clock::time_point::max();
    shared_->timed_out = false;
  }
  bool timed_out() const { return shared_->timed_out; }

 private:
  struct Shared {
    bool timed_out = false;
    bool close = false;                                     // OnExpiry::close
    bool armed = false;                                     // a wait is pending on the timer
    clock::time_point deadline = clock::time_point::max();  // max: none
    clock::time_point armed_until;                          // when the pending wait fires
    std::uint64_t generation = 0;                           // of the pending wait
    boost::asio::ip::tcp::socket* socket = nullptr;         // null once the deadline is gone
    boost::asio::steady_timer* timer = nullptr;
  };

  // Arms the timer for the current deadline. Its expiry, if it is still the pending wait,
  // times the socket out, waits again for a deadline moved later, or does nothing when there
  // is no deadline left.
  template <class Alloc>
  static void arm(const std::shared_ptr<Shared>& shared, Alloc alloc) {
    Shared& s = *shared;
    const auto generation = ++s.generation;
    s.armed = true;
    s.armed_until = s.deadline;
    s.timer->expires_at(s.deadline);  // cancels a pending wait: stale, by its generation
    auto expired = [shared, generation](boost::system::error_code) {
      Shared& s = *shared;
      if (!s.socket || s.generation != generation) return;
      s.armed = false;
      if (s.deadline == clock::time_point::max()) return;
      if (s.deadline <= clock::now()) {
        s.timed_out = true;
        boost::system::error_code ignored;  // a socket closed already: nothing to stop
        if (s.close)
          s.socket->close(ignored);
        else
          s.socket->cancel(ignored);
      } else {
        arm(shared, std::allocator<void>());
      }
    };
    if constexpr (std::is_same_v<Alloc, std::allocator<void>>)
      s.timer->async_wait(std::move(expired));
    else
      s.timer->async_wait(boost::asio::bind_allocator(alloc, std::move(expired)));
  }

  boost::asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace passerelle
