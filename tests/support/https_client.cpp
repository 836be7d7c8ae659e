// Beast client with async operations driven to completion one at a time; the tcp_stream
// deadline bounds each one.
#include "support/https_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <poll.h>

#include <algorithm>

namespace passerelle::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

struct TestConnection::Impl {
  Options options;
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  std::optional<beast::tcp_stream> plain;
  beast::flat_buffer buffer;
  bool ok = false;
  std::uint16_t port = 0;

  beast::tcp_stream& tcp_layer() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  template <class F>
  void with_stream(F&& f) {
    if (tls)
      f(*tls);
    else
      f(*plain);
  }

  void drive() {
    ioc.restart();
    ioc.run();
  }
};

TestConnection::TestConnection(std::uint16_t port) : TestConnection(port, Options{}) {}

TestConnection::TestConnection(std::uint16_t port, Options options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = std::move(options);
  s.port = port;
  if (s.options.tls) {
    if (!s.options.ca_file.empty()) {
      s.ctx.load_verify_file(s.options.ca_file);
      s.ctx.set_verify_mode(ssl::verify_peer);
    } else {
      s.ctx.set_verify_mode(ssl::verify_none);
    }
    if (s.options.max_tls_version) {
      SSL_CTX_set_min_proto_version(s.ctx.native_handle(), TLS1_VERSION);
      SSL_CTX_set_max_proto_version(s.ctx.native_handle(), s.options.max_tls_version);
      SSL_CTX_set_security_level(s.ctx.native_handle(), 0);
    }
    s.tls.emplace(s.ioc, s.ctx);
    if (s.options.resume)
      SSL_set_session(s.tls->native_handle(), static_cast<SSL_SESSION*>(s.options.resume.get()));
  } else {
    s.plain.emplace(s.ioc);
  }
  boost::system::error_code ec;
  if (!s.options.source_address.empty()) {
    auto& socket = s.tcp_layer().socket();
    socket.open(tcp::v4(), ec);
    if (!ec) socket.bind(tcp::endpoint(asio::ip::make_address(s.options.source_address), 0), ec);
    if (ec) return;
  }
  s.tcp_layer().expires_after(s.options.timeout);
  s.tcp_layer().async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                              [&](boost::system::error_code e) { ec = e; });
  s.drive();
  if (ec) return;
  if (s.tls) {
    SSL_set_tlsext_host_name(s.tls->native_handle(), "localhost");
    s.tcp_layer().expires_after(s.options.timeout);
    s.tls->async_handshake(ssl::stream_base::client, [&](boost::system::error_code e) { ec = e; });
    s.drive();
    if (ec) return;
  }
  s.ok = true;
}

TestConnection::~TestConnection() = default;

bool TestConnection::connected() const { return impl_->ok; }

std::shared_ptr<void> TestConnection::session() const {
  if (!impl_->tls) return nullptr;
  SSL_SESSION* session = SSL_get1_session(impl_->tls->native_handle());
  if (!session) return nullptr;
  return std::shared_ptr<void>(session,
                               [](void* p) { SSL_SESSION_free(static_cast<SSL_SESSION*>(p)); });
}

bool TestConnection::resumed() const {
  return impl_->tls && SSL_session_reused(impl_->tls->native_handle()) == 1;
}

std::string TestConnection::peer_certificate_serial() const {
  if (!impl_->tls) return "";
  X509* cert = SSL_get1_peer_certificate(impl_->tls->native_handle());
  if (!cert) return "";
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  X509_free(cert);
  return out;
}

bool TestConnection::send_raw(const std::string& bytes) {
  Impl& s = *impl_;
  boost::system::error_code ec;
  s.tcp_layer().expires_after(s.options.timeout);
  s.with_stream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(bytes),
                      [&](boost::system::error_code e, std::size_t) { ec = e; });
  });
  s.drive();
  return !ec;
}

bool TestConnection::send_below_tls(const std::string& bytes) {
  Impl& s = *impl_;
  boost::system::error_code ec;
  asio::write(s.tcp_layer().socket(), asio::buffer(bytes), ec);
  return !ec;
}

bool TestConnection::wait_peer_shutdown(std::chrono::milliseconds timeout) {
  pollfd p{};
  p.fd = impl_->tcp_layer().socket().native_handle();
  p.events = POLLRDHUP;
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
         (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

std::optional<HttpReply> TestConnection::read_reply(bool to_head) {
  Impl& s = *impl_;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  parser.skip(to_head);
  boost::system::error_code ec;
  s.tcp_layer().expires_after(s.options.timeout);
  s.with_stream([&](auto& stream) {
    http::async_read(stream, s.buffer, parser,
                     [&](boost::system::error_code e, std::size_t) { ec = e; });
  });
  s.drive();
  if (ec) return std::nullopt;
  auto res = parser.release();
  HttpReply reply;
  reply.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    reply.headers[name] = std::string(f.value());
    ++reply.lines[name];
  }
  reply.body = res.body();
  reply.keep_alive = res.keep_alive();
  return reply;
}

std::optional<HttpReply> TestConnection::request(
    const std::string& method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  // Host with the port, as browsers send it (the CSRF origin check compares with it).
  std::string raw = method + " " + target +
                    " HTTP/1.1\r\nHost: localhost:" + std::to_string(impl_->port) + "\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    raw += k + ": " + v + "\r\n";
    has_type = has_type || k == "Content-Type";
  }
  if (!body.empty() && !has_type) raw += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST")
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  raw += "\r\n" + body;
  send_raw(raw);
  return read_reply();
}

bool TestConnection::wait_closed(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  char byte;
  boost::system::error_code ec;
  s.tcp_layer().expires_after(timeout);
  s.with_stream([&](auto& stream) {
    stream.async_read_some(asio::buffer(&byte, 1),
                           [&](boost::system::error_code e, std::size_t) { ec = e; });
  });
  s.drive();
  return ec && ec != beast::error::timeout;
}

}  // namespace passerelle::test
