// Connections to one upstream HTTP(S) service, kept alive between requests and reused by the
// I/O thread that opened them.
#pragma once

#include "passerelle/http.hpp"
#include "server/socket_deadline.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace passerelle {

/// Where a proxied service is: scheme, host, port and the path its routes start at.
struct Upstream {
  bool https = false;
  std::string host;       ///< a name or an address (IPv6 in brackets)
  std::string port;       ///< "443", "8080"...
  std::string base_path;  ///< "" or "/api" (no trailing slash)
  std::string host_header;

  /// Parses "http(s)://host[:port][/base]"; std::invalid_argument says what is wrong.
  static Upstream parse(const std::string& url);
};

/// An upstream's answer as Beast parses it, keeping only what the proxy passes on: the status,
/// the media type, the fields `keep` admits (names in lower case) and the body, whole or piece
/// by piece into the caller's memory. Nothing is stored twice.
class AnswerParser final : public boost::beast::http::basic_parser<false> {
 public:
  /// Whether a field passes: by its number when Beast knows the name; by its name in lower
  /// case when it does not (called first with an empty name: false drops it at once).
  using Keep = bool (*)(boost::beast::http::field known, std::string_view lower_name);

  explicit AnswerParser(Keep keep) : keep_(keep) {}

  int status() const { return status_; }
  /// The media type, taken once.
  std::string take_content_type() { return std::move(content_type_); }
  /// The fields kept, taken once.
  std::vector<std::pair<std::string, std::string>> take_fields() { return std::move(fields_); }
  /// The body read whole, taken once.
  std::string take_body() { return std::move(body_); }
  /// From now on, body bytes go where `into` says, as much as it holds (then need_buffer),
  /// instead of into the whole body; given() says how many went there.
  void into(std::span<char> piece) {
    streamed_ = true;
    piece_ = piece;
    given_ = 0;
  }
  std::size_t given() const { return given_; }

 private:
  void on_request_impl(boost::beast::http::verb, boost::beast::string_view,
                       boost::beast::string_view, int, boost::system::error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view, int,
                        boost::system::error_code&) override {
    status_ = code;
  }
  void on_field_impl(boost::beast::http::field known, boost::beast::string_view name,
                     boost::beast::string_view value, boost::system::error_code&) override;
  void on_header_impl(boost::system::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         boost::system::error_code&) override;
  std::size_t on_body_impl(boost::beast::string_view bytes, boost::system::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view,
                            boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view bytes,
                                 boost::system::error_code& ec) override {
    return on_body_impl(bytes, ec);
  }
  void on_finish_impl(boost::system::error_code&) override {}

  Keep keep_;
  int status_ = 0;
  std::string content_type_;
  std::vector<std::pair<std::string, std::string>> fields_;
  std::string body_;
  bool streamed_ = false;
  std::span<char> piece_;
  std::size_t given_ = 0;
};

/// One connection to the upstream, plain or TLS. Requests go out as bytes the proxy formats;
/// answers are parsed by Beast's parser, fed from the connection's buffer. A plain connection
/// writes at once what the socket takes, and reads through Asio's reactor, which tries the
/// socket only when it may have bytes; its deadline is armed lazily (SocketDeadline). A wait
/// that times out throws beast::error::timeout; a failure, its system_error.
class UpstreamConnection {
 public:
  UpstreamConnection(const boost::asio::any_io_executor& executor, boost::asio::ssl::context* tls);
  ~UpstreamConnection();

  /// Resolves and connects (and, over TLS, handshakes) within `timeout`.
  boost::asio::awaitable<void> connect(const Upstream& upstream, std::chrono::milliseconds timeout);
  /// Writes what the socket takes now, with no wait (plain connections; none over TLS): how
  /// many bytes went.
  std::size_t write_now(std::string_view bytes);
  /// Writes `bytes` whole within `timeout`.
  boost::asio::awaitable<void> write(std::string_view bytes, std::chrono::milliseconds timeout);
  /// Writes `head`, then the body as `body` gives it, chunked or as it comes (the head says
  /// which), each write within `timeout`, the whole before `until` (then HttpError 408: a
  /// client that drips its body cannot hold the connection for good).
  boost::asio::awaitable<void> write_streamed(std::string_view head, BodyStream& body, bool chunked,
                                              std::chrono::milliseconds timeout,
                                              std::chrono::steady_clock::time_point until);
  /// Feeds `parser` what is buffered, with no wait: whether it has the answer's head then
  /// (`whole`: the whole answer).
  bool take_buffered(AnswerParser& parser, bool whole);
  /// Feeds `parser` what is buffered, then what comes, until it has the answer's head (`whole`:
  /// the whole answer), within `timeout`. A connection closed before a byte of the answer is
  /// http::error::end_of_stream.
  boost::asio::awaitable<void> read(AnswerParser& parser, bool whole,
                                    std::chrono::milliseconds timeout);
  /// Reads the next bytes of an answer's body into `into` within `timeout`; 0 at its end.
  boost::asio::awaitable<std::size_t> read_some(AnswerParser& parser, std::span<char> into,
                                                std::chrono::milliseconds timeout);
  /// Whether bytes came past the last answer (read, or decrypted and unread).
  bool has_stray_bytes();

  /// Whether the upstream closed it while idle, or sent bytes nobody asked for (a peek that
  /// does not wait).
  bool closed_while_idle();

  const boost::asio::any_io_executor& executor() const { return executor_; }
  /// When it was last given back to the pool.
  std::chrono::steady_clock::time_point idle_since;

 private:
  // Gives the parser what is buffered, until it has had `enough` or needs more bytes.
  template <class Enough>
  void feed(AnswerParser& parser, Enough enough);
  // Reads what comes next into the buffer: 0 when the upstream closed the connection. In
  // three steps, which read() takes without this coroutine: whether to let the thread's other
  // work go first (throws when the buffer is full), the read, and its outcome.
  boost::asio::awaitable<std::size_t> fill();
  bool yields_before_fill();
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_into_buffer();
  std::size_t filled(boost::system::error_code ec, std::size_t n);
  static constexpr std::size_t kReadSize = 16 * 1024;
  boost::asio::awaitable<void> send(std::string_view bytes);
  void check(boost::system::error_code ec) const;

  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::socket socket_;
  SocketDeadline deadline_;  // after the socket it cancels
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  /// An answer's head (at most 64 KiB) and a read's room.
  boost::beast::flat_buffer buffer_{128 * 1024};
  bool answer_due_ = false;  // a request just went: its answer is not there yet
};

/// Idle connections to one upstream, kept per I/O thread (a connection is reused only by the
/// thread that opened it). Thread-safe; the lock is held for a few pointer moves, never for a
/// system call.
class UpstreamPool {
 public:
  UpstreamPool(std::size_t max_idle, std::chrono::milliseconds idle_timeout)
      : max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  /// An idle connection of `executor`'s thread still open, or nothing. Each is checked first
  /// (one MSG_PEEK): closed by the upstream, or with bytes nobody asked for (an answer read as
  /// the next one's would mix two requests), it is dropped.
  std::unique_ptr<UpstreamConnection> take(const boost::asio::any_io_executor& executor);
  /// Keeps `connection` for a later request (or closes it when its thread keeps max_idle
  /// already, or bytes came past its answer).
  void give_back(std::unique_ptr<UpstreamConnection> connection);

 private:
  struct Shard {
    const void* context;                                    ///< the I/O thread's io_context
    std::vector<std::unique_ptr<UpstreamConnection>> idle;  ///< oldest first
  };
  Shard& shard(const boost::asio::any_io_executor& executor);  // under mutex_

  const std::size_t max_idle_;
  const std::chrono::milliseconds idle_timeout_;
  std::mutex mutex_;
  std::vector<Shard> shards_;  // as many as I/O threads, at most
};

}  // namespace passerelle
