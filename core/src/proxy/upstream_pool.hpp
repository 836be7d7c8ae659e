// Connections to one upstream HTTP(S) service, kept alive between requests and reused by the
// I/O thread that opened them.
#pragma once

#include "passerelle/http.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
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

/// One connection to the upstream, plain or TLS.
class UpstreamConnection {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using StreamedRequest = boost::beast::http::request<boost::beast::http::buffer_body>;
  using HeadParser = boost::beast::http::response_parser<boost::beast::http::empty_body>;
  using WholeParser = boost::beast::http::response_parser<boost::beast::http::string_body>;
  using BodyParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

  UpstreamConnection(const boost::asio::any_io_executor& executor, boost::asio::ssl::context* tls);
  ~UpstreamConnection();

  /// Resolves and connects (and, over TLS, handshakes) within `timeout`.
  boost::asio::awaitable<void> connect(const Upstream& upstream, std::chrono::milliseconds timeout);
  /// Sends a request whose body is whole, within `timeout`. Throws system_error.
  boost::asio::awaitable<void> send(Request& request, std::chrono::milliseconds timeout);
  /// Sends a request head, then its body as `body` gives it (chunked unless the head has a
  /// Content-Length), each write within `timeout`.
  boost::asio::awaitable<void> send(StreamedRequest& request, BodyStream& body,
                                    std::chrono::milliseconds timeout);
  /// Reads the answer's head into `parser` within `timeout`.
  boost::asio::awaitable<void> read_head(HeadParser& parser, std::chrono::milliseconds timeout);
  /// Reads the rest of an answer whole into `parser` within `timeout`.
  boost::asio::awaitable<void> read_whole(WholeParser& parser, std::chrono::milliseconds timeout);
  /// Reads the next bytes of an answer's body into `into` within `timeout`; 0 at its end.
  boost::asio::awaitable<std::size_t> read_some(BodyParser& parser, std::span<char> into,
                                                std::chrono::milliseconds timeout);
  /// Whether the upstream closed it while idle (a peek that does not wait).
  bool closed_while_idle();

  const boost::asio::any_io_executor& executor() const { return executor_; }
  /// When it was last given back to the pool.
  std::chrono::steady_clock::time_point idle_since;

 private:
  boost::beast::tcp_stream& tcp();

  boost::asio::any_io_executor executor_;
  std::unique_ptr<boost::beast::tcp_stream> plain_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
};

/// Idle connections to one upstream. Thread-safe; a connection is reused only by the I/O
/// thread (executor) that opened it.
class UpstreamPool {
 public:
  UpstreamPool(std::size_t max_idle, std::chrono::milliseconds idle_timeout)
      : max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  /// An idle connection of `executor` still open, or nothing.
  std::unique_ptr<UpstreamConnection> take(const boost::asio::any_io_executor& executor);
  /// Keeps `connection` for a later request (or closes it when the pool is full).
  void give_back(std::unique_ptr<UpstreamConnection> connection);

 private:
  const std::size_t max_idle_;
  const std::chrono::milliseconds idle_timeout_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<UpstreamConnection>> idle_;
};

}  // namespace passerelle
