// Upstream connections: connect, exchange, and the pool of idle ones.
#include "proxy/upstream_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
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

void AnswerParser::on_field_impl(http::field known, beast::string_view name,
                                 beast::string_view value, boost::system::error_code&) {
  if (known == http::field::content_type) {
    content_type_.assign(value.data(), value.size());
    return;
  }
  // Most fields an upstream sends are dropped by their number, before any copy.
  if (!keep_(known, {})) return;
  std::string lower(name);
  for (auto& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (known != http::field::unknown || keep_(known, lower))
    fields_.emplace_back(std::move(lower), std::string(value));
}

void AnswerParser::on_body_init_impl(const boost::optional<std::uint64_t>& length,
                                     boost::system::error_code&) {
  // A body read whole is at most what body_limit() lets through; its room is taken once.
  if (length && !streamed_) body_.reserve(static_cast<std::size_t>(*length));
}

std::size_t AnswerParser::on_body_impl(beast::string_view bytes, boost::system::error_code& ec) {
  if (!streamed_) {
    body_.append(bytes.data(), bytes.size());
    return bytes.size();
  }
  // As Beast's buffer_body: the caller's room, then need_buffer until it gives more.
  const std::size_t n = std::min(bytes.size(), piece_.size() - given_);
  std::memcpy(piece_.data() + given_, bytes.data(), n);
  given_ += n;
  if (n < bytes.size() || n == 0) ec = http::error::need_buffer;
  return n;
}

UpstreamConnection::UpstreamConnection(const asio::any_io_executor& executor,
                                       asio::ssl::context* tls)
    : executor_(executor), socket_(executor), deadline_(socket_, SocketDeadline::OnExpiry::close) {
  if (tls) tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls);
}

UpstreamConnection::~UpstreamConnection() = default;

void UpstreamConnection::check(boost::system::error_code ec) const {
  if (deadline_.timed_out()) throw boost::system::system_error(beast::error::timeout);
  if (ec) throw boost::system::system_error(ec);
}

asio::awaitable<void> UpstreamConnection::connect(const Upstream& upstream,
                                                  std::chrono::milliseconds timeout) {
  // The name's resolution too is within the timeout: the request awaits this inline, with no
  // deadline but the proxy's own. A resolution cannot be cancelled (getaddrinfo on a thread of
  // Asio's): the wait is a timer the resolution's end cancels, and a resolution past the
  // timeout finishes on its own, holding only its shared state.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  struct Resolution {
    explicit Resolution(const asio::any_io_executor& executor)
        : resolver(executor), timer(executor) {}
    asio::ip::tcp::resolver resolver;
    asio::steady_timer timer;
    boost::system::error_code error;
    asio::ip::tcp::resolver::results_type endpoints;
    bool done = false;
  };
  auto resolution = std::make_shared<Resolution>(executor_);
  resolution->timer.expires_at(deadline);
  resolution->resolver.async_resolve(
      upstream.host, upstream.port,
      [resolution](boost::system::error_code ec, asio::ip::tcp::resolver::results_type found) {
        resolution->error = ec;
        resolution->endpoints = std::move(found);
        resolution->done = true;
        resolution->timer.cancel();
      });
  boost::system::error_code waited;
  std::tie(waited) = co_await resolution->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!resolution->done) {
    // Not yet started, it is dropped from the resolver thread's queue (else it would run anyway,
    // and a failing name server would pile up lookups nobody waits for).
    resolution->resolver.cancel();
    throw boost::system::system_error(beast::error::timeout);
  }
  if (resolution->error) throw boost::system::system_error(resolution->error);
  const auto endpoints = std::move(resolution->endpoints);
  // Each address in turn, all within the deadline.
  deadline_.expires_at(deadline);
  boost::system::error_code ec = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    std::tie(ec) =
        co_await socket_.async_connect(entry.endpoint(), asio::as_tuple(asio::use_awaitable));
    if (!ec || deadline_.timed_out()) break;
  }
  check(ec);
  socket_.set_option(asio::ip::tcp::no_delay(true));
  socket_.non_blocking(true);
  if (tls_) {
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), upstream.host.c_str()))
      throw std::runtime_error("cannot set the TLS server name");
    tls_->set_verify_mode(asio::ssl::verify_peer);
    tls_->set_verify_callback(asio::ssl::host_name_verification(upstream.host));
    std::tie(ec) = co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                                  asio::as_tuple(asio::use_awaitable));
    check(ec);
  }
  deadline_.expires_never();
}

std::size_t UpstreamConnection::write_now(std::string_view bytes) {
  if (tls_) return 0;
  answer_due_ = true;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    boost::system::error_code ec;
    sent += socket_.write_some(asio::buffer(bytes.substr(sent)), ec);
    if (ec == asio::error::would_block) break;
    if (ec) throw boost::system::system_error(ec);
  }
  return sent;
}

asio::awaitable<void> UpstreamConnection::send(std::string_view bytes) {
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(*tls_, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
    check(ec);
    co_return;
  }
  for (;;) {
    bytes.remove_prefix(write_now(bytes));
    if (bytes.empty()) co_return;
    std::tie(ec) = co_await socket_.async_wait(asio::ip::tcp::socket::wait_write,
                                               asio::as_tuple(asio::use_awaitable));
    check(ec);
  }
}

asio::awaitable<void> UpstreamConnection::write(std::string_view bytes,
                                                std::chrono::milliseconds timeout) {
  deadline_.expires_after(timeout);
  co_await send(bytes);
  deadline_.expires_never();
}

asio::awaitable<void> UpstreamConnection::write_streamed(
    std::string_view head, BodyStream& source, bool chunked, std::chrono::milliseconds timeout,
    std::chrono::steady_clock::time_point until) {
  deadline_.expires_after(timeout);
  co_await send(head);
  constexpr std::size_t kPiece = 16 * 1024;
  // Room for a chunk's size line before the piece and its CRLF after: one write per piece.
  constexpr std::size_t kSizeLine = 18;
  std::unique_ptr<char[]> room(new char[kSizeLine + kPiece + 2]);
  char* const piece = room.get() + kSizeLine;
  for (;;) {
    // Each of the client's reads has its own timeout (body_timeout); all of them, this bound.
    if (std::chrono::steady_clock::now() >= until)
      throw HttpError(408, "request_timeout", "the request body took longer than stream_timeout");
    deadline_.expires_never();
    const std::size_t n = co_await source.read(std::span<char>(piece, kPiece));
    deadline_.expires_after(timeout);
    if (!chunked) {
      if (n == 0) break;
      co_await send(std::string_view(piece, n));
      continue;
    }
    // RFC 9112 §7.1: the size in hex, CRLF, the bytes, CRLF; the last chunk is "0" CRLF CRLF.
    char line[kSizeLine];
    const int length = std::snprintf(line, sizeof line, "%zx\r\n", n);
    char* const start = piece - length;
    std::memcpy(start, line, static_cast<std::size_t>(length));
    std::memcpy(piece + n, "\r\n", 2);
    co_await send(std::string_view(start, static_cast<std::size_t>(length) + n + 2));
    if (n == 0) break;
  }
  deadline_.expires_never();
}

template <class Enough>
void UpstreamConnection::feed(AnswerParser& parser, Enough enough) {
  while (buffer_.size() > 0 && !enough()) {
    boost::system::error_code ec;
    const std::size_t used = parser.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) break;
    if (ec) throw boost::system::system_error(ec);
    if (used == 0) break;  // nothing it could take: more bytes are needed
  }
}

bool UpstreamConnection::yields_before_fill() {
  // The buffer holds a head (header_limit) or a chunk's size line and extensions, or a
  // trailer section, which Beast does not bound: an upstream cannot grow it for good.
  if (buffer_.size() + kReadSize > buffer_.max_size())
    throw boost::system::system_error(http::error::buffer_overflow);
  // Just after a request, the answer is not there yet: the thread does its other work first,
  // after which, under load, the first read finds the answer (one system call rather than a
  // read that finds nothing, then another).
  return std::exchange(answer_due_, false);
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
UpstreamConnection::read_into_buffer() {
  const auto room = buffer_.prepare(kReadSize);
  if (tls_) return tls_->async_read_some(room, asio::as_tuple(asio::use_awaitable));
  return socket_.async_read_some(room, asio::as_tuple(asio::use_awaitable));
}

std::size_t UpstreamConnection::filled(boost::system::error_code ec, std::size_t n) {
  // A socket the deadline closed reads as closed too: that is a timeout (check).
  if (!deadline_.timed_out() &&
      (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated))
    return 0;
  check(ec);
  buffer_.commit(n);
  return n;
}

asio::awaitable<std::size_t> UpstreamConnection::fill() {
  if (yields_before_fill()) co_await asio::post(executor_, asio::use_awaitable);
  const auto [ec, n] = co_await read_into_buffer();
  co_return filled(ec, n);
}

bool UpstreamConnection::take_buffered(AnswerParser& parser, bool whole) {
  const auto enough = [&] { return whole ? parser.is_done() : parser.is_header_done(); };
  feed(parser, enough);
  return enough();
}

asio::awaitable<void> UpstreamConnection::read(AnswerParser& parser, bool whole,
                                               std::chrono::milliseconds timeout) {
  bool armed = false;
  for (;;) {
    // What is buffered first: an answer often comes in one read, head and body.
    if (take_buffered(parser, whole)) break;
    if (!armed) {
      deadline_.expires_after(timeout);
      armed = true;
    }
    // fill(), in this coroutine: an answer's head costs no frame more.
    if (yields_before_fill()) co_await asio::post(executor_, asio::use_awaitable);
    const auto [ec, n] = co_await read_into_buffer();
    if (filled(ec, n) == 0) {
      // Closed: before any byte, the connection was stale; within a body that ends at the
      // close, that is its end; anywhere else, the answer is cut.
      if (!parser.got_some()) throw boost::system::system_error(http::error::end_of_stream);
      boost::system::error_code at_end;
      parser.put_eof(at_end);
      if (at_end) throw boost::system::system_error(at_end);
      break;
    }
  }
  if (armed) deadline_.expires_never();
}

asio::awaitable<std::size_t> UpstreamConnection::read_some(AnswerParser& parser,
                                                           std::span<char> into,
                                                           std::chrono::milliseconds timeout) {
  if (parser.is_done() || into.empty()) co_return 0;
  parser.into(into);
  const auto enough = [&] { return parser.given() > 0 || parser.is_done(); };
  deadline_.expires_after(timeout);
  for (;;) {
    feed(parser, enough);
    if (enough()) break;
    const std::size_t got = co_await fill();
    if (got == 0) {
      boost::system::error_code at_end;
      parser.put_eof(at_end);  // the end of a body that ends at the close; else a cut answer
      if (at_end) throw boost::system::system_error(at_end);
      break;
    }
  }
  deadline_.expires_never();
  const std::size_t n = parser.given();
  parser.into({});
  co_return n;
}

bool UpstreamConnection::has_stray_bytes() {
  if (buffer_.size() > 0) return true;
  if (!tls_) return false;
  // Decrypted and unread, or received and not yet decrypted (in OpenSSL's buffer or in the
  // BIO Asio feeds it from).
  SSL* ssl = tls_->native_handle();
  return SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
}

bool UpstreamConnection::closed_while_idle() {
  if (has_stray_bytes()) return true;  // bytes nobody asked for: not a clean connection
  char byte;
  const auto n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);  // 0: closed; 1: stray bytes
}

UpstreamPool::Shard& UpstreamPool::shard(const asio::any_io_executor& executor) {
  const void* context = &asio::query(executor, asio::execution::context);
  for (auto& s : shards_)
    if (s.context == context) return s;
  return shards_.emplace_back(Shard{context, {}});
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take(const asio::any_io_executor& executor) {
  for (;;) {
    std::vector<std::unique_ptr<UpstreamConnection>> expired;  // closed outside the lock
    std::unique_ptr<UpstreamConnection> candidate;
    {
      std::lock_guard lock(mutex_);
      auto& idle = shard(executor).idle;
      const auto now = std::chrono::steady_clock::now();
      const auto fresh = std::find_if(idle.begin(), idle.end(), [&](const auto& c) {
        return now - c->idle_since <= idle_timeout_;
      });
      expired.assign(std::make_move_iterator(idle.begin()), std::make_move_iterator(fresh));
      idle.erase(idle.begin(), fresh);
      if (idle.empty()) return nullptr;
      candidate = std::move(idle.back());  // the most recently used: the likeliest still open
      idle.pop_back();
    }
    // One peek, outside the lock: a connection the upstream closed meanwhile is dropped.
    if (!candidate->closed_while_idle()) return candidate;
  }
}

void UpstreamPool::give_back(std::unique_ptr<UpstreamConnection> connection) {
  // Bytes past the answer: the upstream's framing is not to be trusted on this connection.
  if (connection->has_stray_bytes()) return;
  connection->idle_since = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  auto& idle = shard(connection->executor()).idle;
  if (idle.size() >= max_idle_) return;  // closed (after the lock is released)
  idle.push_back(std::move(connection));
}

}  // namespace passerelle
