// Upstream connections: connect, exchange, and the pool of idle ones.
#include "proxy/upstream_pool.hpp"

#include <boost/asio/as_tuple.hpp>
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

asio::awaitable<void> UpstreamConnection::send(Request& request,
                                               std::chrono::milliseconds timeout) {
  tcp().expires_after(timeout);
  if (tls_)
    co_await http::async_write(*tls_, request, asio::use_awaitable);
  else
    co_await http::async_write(*plain_, request, asio::use_awaitable);
}

asio::awaitable<void> UpstreamConnection::send(StreamedRequest& request, BodyStream& source,
                                               std::chrono::milliseconds timeout) {
  http::request_serializer<http::buffer_body> serializer(request);
  tcp().expires_after(timeout);
  if (tls_)
    co_await http::async_write_header(*tls_, serializer, asio::use_awaitable);
  else
    co_await http::async_write_header(*plain_, serializer, asio::use_awaitable);
  std::unique_ptr<char[]> chunk(new char[16 * 1024]);
  for (;;) {
    tcp().expires_never();  // the client's reads have their own timeouts
    const std::span<char> into(chunk.get(), 16 * 1024);
    const std::size_t n = co_await source.read(into);
    auto& body = request.body();
    body.data = n ? chunk.get() : nullptr;
    body.size = n;
    body.more = n > 0;
    tcp().expires_after(timeout);
    boost::system::error_code ec;
    if (tls_)
      std::tie(ec, std::ignore) =
          co_await http::async_write(*tls_, serializer, asio::as_tuple(asio::use_awaitable));
    else
      std::tie(ec, std::ignore) =
          co_await http::async_write(*plain_, serializer, asio::as_tuple(asio::use_awaitable));
    // need_buffer: this piece is written, the serializer wants the next one.
    if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec);
    if (n == 0) break;
  }
}

asio::awaitable<void> UpstreamConnection::read_head(HeadParser& parser,
                                                    std::chrono::milliseconds timeout) {
  tcp().expires_after(timeout);
  if (tls_)
    co_await http::async_read_header(*tls_, buffer_, parser, asio::use_awaitable);
  else
    co_await http::async_read_header(*plain_, buffer_, parser, asio::use_awaitable);
  tcp().expires_never();
}

asio::awaitable<void> UpstreamConnection::read_whole(WholeParser& parser,
                                                     std::chrono::milliseconds timeout) {
  tcp().expires_after(timeout);
  if (tls_)
    co_await http::async_read(*tls_, buffer_, parser, asio::use_awaitable);
  else
    co_await http::async_read(*plain_, buffer_, parser, asio::use_awaitable);
  tcp().expires_never();
}

asio::awaitable<std::size_t> UpstreamConnection::read_some(BodyParser& parser, std::span<char> into,
                                                           std::chrono::milliseconds timeout) {
  if (parser.is_done() || into.empty()) co_return 0;
  auto& body = parser.get().body();
  body.data = into.data();
  body.size = into.size();
  tcp().expires_after(timeout);
  boost::system::error_code ec;
  if (tls_)
    std::tie(ec, std::ignore) =
        co_await http::async_read_some(*tls_, buffer_, parser, asio::as_tuple(asio::use_awaitable));
  else
    std::tie(ec, std::ignore) = co_await http::async_read_some(*plain_, buffer_, parser,
                                                               asio::as_tuple(asio::use_awaitable));
  tcp().expires_never();
  const std::size_t n = into.size() - body.size;
  body.data = nullptr;
  if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec);
  co_return n;
}

bool UpstreamConnection::closed_while_idle() {
  if (buffer_.size() > 0) return true;  // bytes nobody asked for: not a clean connection
  if (tls_ && SSL_pending(tls_->native_handle()) > 0) return true;  // decrypted, unread
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

}  // namespace passerelle
