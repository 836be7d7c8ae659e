// A TLS stream straight on the socket (OpenSSL reads and writes the file descriptor itself),
// with a deadline like Beast's tcp_stream. Asio's ssl::stream keeps four 17 KiB buffers per
// connection (its own two and a BIO pair); this one keeps none while a connection is idle
// (SSL_MODE_RELEASE_BUFFERS), which is what 1,000 idle TLS clients cost.
#pragma once

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

  /// Takes the socket; `ctx` must outlive the stream (the session holds it).
  TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        shared_(std::make_shared<Shared>()) {
    shared_->socket = &socket_;
    socket_.non_blocking(true);
    ssl_ = SSL_new(ctx);
    if (!ssl_ || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1)
      throw std::runtime_error("cannot create a TLS session");
    SSL_set_accept_state(ssl_);
    // Fewer reads: OpenSSL takes what the socket has, not one record header at a time.
    SSL_set_read_ahead(ssl_, 1);
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                           SSL_MODE_RELEASE_BUFFERS);
  }

  ~TlsStream() {
    shared_->socket = nullptr;
    SSL_free(ssl_);
  }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  SSL* native_handle() { return ssl_; }

  /// Every operation pending now or started before the deadline fails with
  /// beast::error::timeout once it passes (the socket is cancelled). `Alloc`: how the pending
  /// wait is allocated (the default: Asio's per-thread recycling, for deadlines that change
  /// with every request; ExactAllocator for a long one).
  template <class Alloc = std::allocator<void>>
  void expires_after(std::chrono::steady_clock::duration d, Alloc alloc = {}) {
    const auto generation = ++shared_->generation;
    shared_->timed_out = false;
    timer_.expires_after(d);
    auto expired = [s = shared_, generation](error_code ec) {
      // The stream may be gone (socket null), or the deadline replaced after this expiry was
      // already queued (generation moved on): then nothing times out.
      if (ec || !s->socket || s->generation != generation) return;
      s->timed_out = true;
      s->socket->cancel();
    };
    if constexpr (std::is_same_v<Alloc, std::allocator<void>>)
      timer_.async_wait(std::move(expired));
    else
      timer_.async_wait(boost::asio::bind_allocator(alloc, std::move(expired)));
  }
  void expires_never() {
    ++shared_->generation;
    shared_->timed_out = false;
    timer_.cancel();
  }

  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(Op<Handshake>{this, Handshake{}},
                                                               token, socket_);
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op<Read<MutableBuffers>>{this, Read<MutableBuffers>{buffers}}, token, socket_);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op<Write<ConstBuffers>>{this, Write<ConstBuffers>{buffers}}, token, socket_);
  }

  /// Completes when application data can be read (or the peer closed), without taking it:
  /// an idle connection then needs no read buffer.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(Op<Peek>{this, Peek{}}, token,
                                                               socket_);
  }

  /// Sends close_notify if the socket takes it now; never waits (the peer may be gone).
  void close_notify() {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }

 private:
  struct Shared {
    bool timed_out = false;
    std::uint64_t generation = 0;
    boost::asio::ip::tcp::socket* socket = nullptr;
  };

  // One attempt of an OpenSSL call: >0 done (with `n` bytes), else SSL_get_error applies.
  struct Handshake {
    static constexpr bool kHasSize = false;
    int operator()(SSL* ssl, std::size_t& n) const {
      n = 0;
      return SSL_do_handshake(ssl);
    }
  };
  struct Peek {
    static constexpr bool kHasSize = false;
    int operator()(SSL* ssl, std::size_t& n) const {
      char byte;
      return SSL_peek_ex(ssl, &byte, 1, &n);
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
      // Gather small buffers (Beast writes header and body apart) into one TLS record.
      thread_local char scratch[16 * 1024];
      std::size_t used = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers) && used < sizeof scratch; ++it) {
        boost::asio::const_buffer b = *it;
        const std::size_t take = std::min(b.size(), sizeof scratch - used);
        std::memcpy(scratch + used, b.data(), take);
        used += take;
      }
      if (used == 0) {
        n = 0;
        return 1;
      }
      return SSL_write_ex(ssl, scratch, used, &n);
    }
  };

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
      if (stream->shared_->timed_out) return finish(self, boost::beast::error::timeout, 0);
      if (ec) return finish(self, ec, 0);
      ERR_clear_error();
      std::size_t n = 0;
      const int r = attempt(stream->ssl_, n);
      if (r > 0) return finish(self, {}, n);
      const int err = SSL_get_error(stream->ssl_, r);
      switch (err) {
        case SSL_ERROR_WANT_READ:
          return stream->socket_.async_wait(boost::asio::ip::tcp::socket::wait_read,
                                            std::move(self));
        case SSL_ERROR_WANT_WRITE:
          return stream->socket_.async_wait(boost::asio::ip::tcp::socket::wait_write,
                                            std::move(self));
        case SSL_ERROR_ZERO_RETURN:
          return finish(self, boost::asio::error::eof, 0);  // the peer sent close_notify
        case SSL_ERROR_SYSCALL:
          // A peer that closes without close_notify: a truncated stream, which HTTP tolerates.
          return finish(self,
                        errno && errno != EAGAIN
                            ? error_code(errno, boost::system::system_category())
                            : error_code(boost::asio::ssl::error::stream_truncated),
                        0);
        default: {
          const unsigned long code = ERR_get_error();
          ERR_clear_error();
          return finish(self,
                        error_code(static_cast<int>(code ? code : err),
                                   boost::asio::error::get_ssl_category()),
                        0);
        }
      }
    }
  };

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
  SSL* ssl_ = nullptr;
};

}  // namespace passerelle
