// Beast client over TCP or TLS; the whole exchange races a timer, so no step can hang.
#include "client/http_client.hpp"

#include "log/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace passerelle {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

namespace {

struct Target {
  bool https = false;
  std::string host;
  std::string port;
  std::string target;
};

Target parse_target(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) throw HttpError(502, "upstream_unavailable", "invalid upstream URL");
  Target t;
  const std::string scheme = parsed->scheme();
  if (scheme == "https")
    t.https = true;
  else if (scheme != "http")
    throw HttpError(502, "upstream_unavailable", "unsupported URL scheme");
  t.host = parsed->host_address();
  if (t.host.empty()) throw HttpError(502, "upstream_unavailable", "URL without host");
  if (parsed->host_type() == boost::urls::host_type::ipv6) t.host = parsed->encoded_host_address();
  t.port = parsed->has_port() ? std::string(parsed->port()) : (t.https ? "443" : "80");
  t.target = parsed->encoded_target().empty() ? "/" : std::string(parsed->encoded_target());
  if (t.target.front() != '/') t.target = "/" + t.target;
  return t;
}

template <class Stream>
asio::awaitable<OutboundResponse> exchange(Stream& stream, const Target& t, OutboundRequest& r) {
  http::request<http::string_body> req{http::string_to_verb(r.method), t.target, 11};
  if (req.method() == http::verb::unknown)
    throw HttpError(502, "upstream_unavailable", "unsupported method " + r.method);
  const bool default_port = t.port == (t.https ? "443" : "80");
  req.set(http::field::host, default_port ? t.host : t.host + ":" + t.port);
  req.set(http::field::user_agent, "passerelle");
  for (auto& [k, v] : r.headers) req.set(k, v);
  req.body() = std::move(r.body);
  req.keep_alive(false);
  req.prepare_payload();
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(r.max_body_bytes);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  auto res = parser.release();
  OutboundResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  out.body = std::move(res.body());
  co_return out;
}

asio::awaitable<OutboundResponse> fetch_once(std::shared_ptr<ssl::context> tls, Target t,
                                             OutboundRequest r) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(t.host, t.port, asio::use_awaitable);
  if (!t.https) {
    beast::tcp_stream stream(ex);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    co_return co_await exchange(stream, t, r);
  }
  beast::ssl_stream<beast::tcp_stream> stream(ex, *tls);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), t.host.c_str()))
    throw HttpError(502, "upstream_unavailable", "cannot set TLS server name");
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(t.host));
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
  auto out = co_await exchange(stream, t, r);
  auto [ec] = co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
  co_return out;
}

// Never throws: operator|| waits for a *successful* branch, so a failure must be a value or the
// exchange would wait for the timer. A struct, not a variant: operator|| flattens variants.
struct Outcome {
  std::optional<OutboundResponse> response;
  std::exception_ptr error;
};

asio::awaitable<Outcome> fetch_guarded(std::shared_ptr<ssl::context> tls, Target t,
                                       OutboundRequest r) {
  // Plain statements around each co_await: g++ 12 mishandles class temporaries (braced
  // aggregates, lambdas) that share a full-expression with a co_await.
  Outcome outcome;
  try {
    OutboundResponse response = co_await fetch_once(std::move(tls), std::move(t), std::move(r));
    outcome.response = std::move(response);
  } catch (...) {
    outcome.error = std::current_exception();
  }
  co_return outcome;
}

}  // namespace

OutboundHttpClient::OutboundHttpClient(const OutboundConfig& config)
    : tls_(std::make_shared<ssl::context>(ssl::context::tls_client)) {
  SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
  tls_->set_default_verify_paths();
  if (!config.ca_file.empty()) tls_->load_verify_file(config.ca_file);
}

OutboundHttpClient::~OutboundHttpClient() = default;

Task<OutboundResponse> OutboundHttpClient::fetch(OutboundRequest request) {
  using namespace asio::experimental::awaitable_operators;
  const Target target = parse_target(request.url);
  asio::steady_timer timer(co_await asio::this_coro::executor, request.timeout);
  auto fetching = fetch_guarded(tls_, target, std::move(request));
  auto waiting = timer.async_wait(asio::use_awaitable);
  auto result = co_await (std::move(fetching) || std::move(waiting));
  if (result.index() == 1)
    throw HttpError(504, "upstream_timeout", "the upstream did not answer in time");
  Outcome outcome = std::get<0>(std::move(result));
  if (outcome.response) co_return std::move(*outcome.response);
  try {
    std::rethrow_exception(outcome.error);
  } catch (const HttpError&) {
    throw;
  } catch (const std::exception& e) {
    // The detail (addresses, source locations) is for the log, not for the user.
    log::warn("http_client", "outbound request failed",
              {{"host", target.host}, {"error", e.what()}});
    throw HttpError(502, "upstream_unavailable", "the upstream service is unreachable");
  }
}

}  // namespace passerelle
