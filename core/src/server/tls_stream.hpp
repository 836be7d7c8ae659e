// A TLS stream straight on the socket (OpenSSL reads and writes the file descriptor itself),
// with a deadline like Beast's tcp_stream. Asio's ssl::stream keeps four 17 KiB buffers per
// connection (its own two and a BIO pair); this one keeps OpenSSL's two while the connection is
// busy and none while it waits (async_ready), which is what 1,000 idle TLS clients cost.
#pragma once

#include "server/socket_deadline.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <type_traits>

namespace passerelle {

/// Allocates exactly what it is asked for, with operator new. Bound to a handler, it keeps
/// Asio from taking the operation from its per-thread cache of recycled blocks, which hands a
/// small object whatever larger block (up to 1 KiB) it holds: right for operations that last
/// a moment, wasteful for one that waits for minutes, such as a parked connection's.
template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  friend bool operator==(const ExactAllocator&, const ExactAllocator&) { return true; }
};

class TlsStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using error_code = boost::system::error_code;
  using clock = std::chrono::steady_clock;

  /// Takes the socket; `ctx` must outlive the stream (the session holds it).
  TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx)
      : socket_(std::move(socket)), deadline_(socket_) {
    socket_.non_blocking(true);
    ssl_ = SSL_new(ctx);
    if (!ssl_ || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1)
      throw std::runtime_error("cannot create a TLS session");
    SSL_set_accept_state(ssl_);
    // Fewer reads: OpenSSL takes what the socket has, not one record header at a time.
    SSL_set_read_ahead(ssl_, 1);
    // OpenSSL's 17 KiB read and write buffers stay while the connection is busy (freeing them
    // after every record cost two large allocations per request) and go when it waits
    // (async_ready).
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }

  ~TlsStream() { SSL_free(ssl_); }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  SSL* native_handle() { return ssl_; }

  /// Every operation pending now or started before the deadline fails with
  /// beast::error::timeout once it passes (SocketDeadline: armed lazily). `Alloc`: how a wait
  /// armed here is allocated (ExactAllocator for a long one, such as a parked connection's).
  template <class Alloc = std::allocator<void>>
  void expires_after(clock::duration d, Alloc alloc = {}) {
    deadline_.expires_after(d, alloc);
  }
  void expires_never() { deadline_.expires_never(); }
  bool timed_out() const { return deadline_.timed_out(); }

  // --- non-blocking attempts: done now, or error::would_block and wants() says on what ---

  /// A SyncReadStream and SyncWriteStream view of the stream whose operations never block:
  /// they fail with error::would_block when OpenSSL needs the socket to be readable or
  /// writable first (wants()). Beast's synchronous read algorithms run on it unchanged, and an
  /// answer is written with no trip through the scheduler when the socket takes it at once.
  class NonBlocking {
   public:
    explicit NonBlocking(TlsStream& s) : s_(&s) {}
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, error_code& ec) {
      return s_->attempt(Read<MutableBuffers>{buffers}, ec);
    }
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers) {  // the throwing form Beast requires
      return or_throw([&](error_code& ec) { return read_some(buffers, ec); });
    }
    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, error_code& ec) {
      return s_->attempt(Write<ConstBuffers>{buffers}, ec);
    }
    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers) {
      return or_throw([&](error_code& ec) { return write_some(buffers, ec); });
    }

   private:
    template <class F>
    static std::size_t or_throw(F f) {
      error_code ec;
      const std::size_t n = f(ec);
      if (ec) throw boost::system::system_error(ec);
      return n;
    }
    TlsStream* s_;
  };
  NonBlocking nonblocking() { return NonBlocking(*this); }

  /// Whether OpenSSL holds bytes read from the socket and not yet taken.
  bool has_buffered() const { return SSL_has_pending(ssl_) == 1; }

  /// What the last would_block attempt waits for.
  boost::asio::socket_base::wait_type wants() const { return want_; }

  /// Waits until the socket is ready for the last would_block attempt (no post, no composed
  /// operation: one reactor wait). Complete with ready_error(ec), which names a timeout.
  /// OpenSSL's buffers go back before the wait when they hold nothing (as nginx's
  /// SSL_MODE_RELEASE_BUFFERS, but only when the connection must wait: a client that sends its
  /// head slowly, or reads its answer slowly, holds no 34 KiB meanwhile).
  template <class Token>
  auto async_ready(Token&& token) {
    SSL_free_buffers(ssl_);
    return socket_.async_wait(want_, std::forward<Token>(token));
  }
  error_code ready_error(error_code ec) const {
    if (deadline_.timed_out()) return boost::beast::error::timeout;
    return ec;
  }

  // --- asynchronous operations (the handshake, and Beast's write of a 100 Continue) --------

  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(Op<Handshake>{this, Handshake{}},
                                                               token, socket_);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op<Write<ConstBuffers>>{this, Write<ConstBuffers>{buffers}}, token, socket_);
  }

  /// Sends close_notify if the socket takes it now; never waits (the peer may be gone).
  void close_notify() {
    clear_errors();
    SSL_shutdown(ssl_);
    clear_errors();
  }

 private:
  // SSL_get_error reads the thread's error queue, which must be empty before each call. It
  // nearly always is: peeking costs a tenth of ERR_clear_error, which walks all its slots.
  static void clear_errors() {
    if (ERR_peek_error() != 0) ERR_clear_error();
  }

  // One attempt of an OpenSSL call: >0 done (with `n` bytes), else SSL_get_error applies.
  struct Handshake {
    static constexpr bool kHasSize = false;
    int operator()(SSL* ssl, std::size_t& n) const {
      n = 0;
      return SSL_do_handshake(ssl);
    }
  };
  template <class Buffers>
  struct Read {
    static constexpr bool kHasSize = true;
    Buffers buffers;
    int operator()(SSL* ssl, std::size_t& n) const {
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        boost::asio::mutable_buffer b = *it;
        if (b.size() == 0) continue;
        return SSL_read_ex(ssl, b.data(), b.size(), &n);
      }
      n = 0;
      return 1;  // nothing asked
    }
  };
  template <class Buffers>
  struct Write {
    static constexpr bool kHasSize = true;
    Buffers buffers;
    int operator()(SSL* ssl, std::size_t& n) const {
      // Gather small buffers (a head and a body) into one TLS record.
      thread_local char scratch[16 * 1024];
      auto it = boost::asio::buffer_sequence_begin(buffers);
      const auto end = boost::asio::buffer_sequence_end(buffers);
      while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
      if (it == end) {
        n = 0;
        return 1;  // nothing asked
      }
      const boost::asio::const_buffer first = *it;
      if (first.size() >= sizeof scratch || std::next(it) == end)
        return SSL_write_ex(ssl, first.data(), first.size(), &n);  // no copy needed
      std::size_t used = 0;
      for (; it != end && used < sizeof scratch; ++it) {
        boost::asio::const_buffer b = *it;
        const std::size_t take = std::min(b.size(), sizeof scratch - used);
        std::memcpy(scratch + used, b.data(), take);
        used += take;
      }
      return SSL_write_ex(ssl, scratch, used, &n);
    }
  };

  // Runs one attempt: the bytes moved, or an error; error::would_block with want_ set when
  // OpenSSL needs the socket first.
  template <class Attempt>
  std::size_t attempt(const Attempt& a, error_code& ec) {
    ec = {};
    if (deadline_.timed_out()) {
      ec = boost::beast::error::timeout;
      return 0;
    }
    clear_errors();
    std::size_t n = 0;
    const int r = a(ssl_, n);
    if (r > 0) return n;
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        want_ = boost::asio::socket_base::wait_read;
        ec = boost::asio::error::would_block;
        break;
      case SSL_ERROR_WANT_WRITE:
        want_ = boost::asio::socket_base::wait_write;
        ec = boost::asio::error::would_block;
        break;
      case SSL_ERROR_ZERO_RETURN:
        ec = boost::asio::error::eof;  // the peer sent close_notify
        break;
      case SSL_ERROR_SYSCALL:
        // A peer that closes without close_notify: a truncated stream, which HTTP tolerates.
        ec = errno && errno != EAGAIN ? error_code(errno, boost::system::system_category())
                                      : error_code(boost::asio::ssl::error::stream_truncated);
        break;
      default: {
        const unsigned long code = ERR_get_error();
        clear_errors();
        ec = error_code(static_cast<int>(code ? code : SSL_ERROR_SSL),
                        boost::asio::error::get_ssl_category());
      }
    }
    return 0;
  }

  template <class Attempt>
  struct Op {
    TlsStream* stream;
    Attempt attempt;
    bool started = false;

    template <class Self>
    void finish(Self& self, error_code ec, std::size_t n) {
      if constexpr (Attempt::kHasSize)
        self.complete(ec, n);
      else
        self.complete(ec);
    }

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
      if (!started) {
        // Never complete inside the initiating call.
        started = true;
        boost::asio::post(stream->socket_.get_executor(), std::move(self));
        return;
      }
      if (stream->deadline_.timed_out()) return finish(self, boost::beast::error::timeout, 0);
      if (ec) return finish(self, ec, 0);
      const std::size_t n = stream->attempt(attempt, ec);
      if (ec == boost::asio::error::would_block)
        return stream->socket_.async_wait(stream->want_, std::move(self));
      finish(self, ec, n);
    }
  };

  boost::asio::ip::tcp::socket socket_;
  SocketDeadline deadline_;  // after the socket it cancels
  SSL* ssl_ = nullptr;
  boost::asio::socket_base::wait_type want_ = boost::asio::socket_base::wait_read;
};

}  // namespace passerelle
