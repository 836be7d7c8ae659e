// Upstream connections: connect, exchange, and the pool of idle ones.
#include "proxy/upstream_pool.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>

namespace passerelle {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Upstream Upstream::parse(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) throw std::invalid_argument("not an absolute URL");
  Upstream u;
  const std::string scheme = parsed->scheme();
  if (scheme == "https")
    u.https = true;
  else if (scheme != "http")
    throw std::invalid_argument("the scheme must be http or https");
  if (parsed->has_query() || parsed->has_fragment() || parsed->has_userinfo())
    throw std::invalid_argument("no user, query or fragment in an upstream URL");
  u.host = std::string(parsed->encoded_host_address());
  if (u.host.empty()) throw std::invalid_argument("no host");
  u.port = parsed->has_port() ? std::string(parsed->port()) : (u.https ? "443" : "80");
  u.base_path = std::string(parsed->encoded_path());
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  const bool default_port = u.port == (u.https ? "443" : "80");
  const std::string shown =
      parsed->host_type() == boost::urls::host_type::ipv6 ? "[" + u.host + "]" : u.host;
  u.host_header = default_port ? shown : shown + ":" + u.port;
  return u;
}

UpstreamConnection::UpstreamConnection(const asio::any_io_executor& executor,
                                       asio::ssl::context* tls)
    : executor_(executor) {
  if (tls)
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(executor, *tls);
  else
    plain_ = std::make_unique<beast::tcp_stream>(executor);
}

UpstreamConnection::~UpstreamConnection() = default;

beast::tcp_stream& UpstreamConnection::tcp() {
  return tls_ ? beast::get_lowest_layer(*tls_) : *plain_;
}

asio::awaitable<void> UpstreamConnection::connect(const Upstream& upstream,
                                                  std::chrono::milliseconds timeout) {
  asio::ip::tcp::resolver resolver(executor_);
  tcp().expires_after(timeout);
  auto endpoints =
      co_await resolver.async_resolve(upstream.host, upstream.port, asio::use_awaitable);
  co_await tcp().async_connect(endpoints, asio::use_awaitable);
  tcp().socket().set_option(asio::ip::tcp::no_delay(true));
  if (tls_) {
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), upstream.host.c_str()))
      throw std::runtime_error("cannot set the TLS server name");
    tls_->set_verify_mode(asio::ssl::verify_peer);
    tls_->set_verify_callback(asio::ssl::host_name_verification(upstream.host));
    co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  }
  tcp().expires_never();
}

asio::awaitable<UpstreamConnection::Response> UpstreamConnection::exchange(
    Request& request, bool head, std::size_t max_body, std::chrono::milliseconds timeout) {
  ++uses;
  tcp().expires_after(timeout);
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  parser.header_limit(64 * 1024);
  if (head) parser.skip(true);
  if (tls_) {
    co_await http::async_write(*tls_, request, asio::use_awaitable);
    co_await http::async_read(*tls_, buffer_, parser, asio::use_awaitable);
  } else {
    co_await http::async_write(*plain_, request, asio::use_awaitable);
    co_await http::async_read(*plain_, buffer_, parser, asio::use_awaitable);
  }
  tcp().expires_never();
  co_return parser.release();
}

bool UpstreamConnection::closed_while_idle() {
  if (buffer_.size() > 0) return true;  // bytes nobody asked for: not a clean connection
  char byte;
  const auto n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);  // 0: closed; 1: stray bytes
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take(const asio::any_io_executor& executor) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<UpstreamConnection>> stale;  // closed outside the lock
  std::unique_ptr<UpstreamConnection> found;
  {
    std::lock_guard lock(mutex_);
    for (auto it = idle_.rbegin(); it != idle_.rend();) {
      auto& c = *it;
      if (now - c->idle_since > idle_timeout_ || c->closed_while_idle()) {
        stale.push_back(std::move(c));
        it = decltype(it)(idle_.erase(std::next(it).base()));
        continue;
      }
      if (c->executor() == executor) {
        found = std::move(c);
        idle_.erase(std::next(it).base());
        break;
      }
      ++it;
    }
  }
  return found;
}

void UpstreamPool::give_back(std::unique_ptr<UpstreamConnection> connection) {
  connection->idle_since = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
}

std::size_t UpstreamPool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

}  // namespace passerelle
