// The proxy: one route per method under the mount, each request forwarded on a pooled
// keep-alive connection; retries for idempotent methods only; 502 and 504 with a clear error.
#include "proxy/proxy_plugin.hpp"

#include "proxy/upstream_pool.hpp"

#include <openssl/rand.h>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace passerelle {

namespace http = boost::beast::http;

namespace {

struct ProxySettings {
  std::string upstream;
  std::vector<std::string> roles = {"*"};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds response_timeout{25000};
  std::int64_t retries = 1;
  std::int64_t max_response_bytes = 1024 * 1024 * 1024;
  std::int64_t max_request_bytes = 1024 * 1024 * 1024;
  std::int64_t max_idle_connections = 64;
  std::chrono::milliseconds idle_timeout{4000};
  std::string audience;
  std::filesystem::path ca_file;
};

const ConfigReader<ProxySettings> kConfig =
    ConfigReader<ProxySettings>()
        .required_key("upstream", &ProxySettings::upstream,
                      "Base URL of the service, http(s)://host[:port][/path]")
        .key("roles", &ProxySettings::roles, "Roles admitted; [\"*\"]: any logged-in user")
        .key("connect_timeout", &ProxySettings::connect_timeout, "Connecting, TLS included")
        .key("response_timeout", &ProxySettings::response_timeout, "Sending and the whole answer")
        .key("retries", &ProxySettings::retries, "Further attempts, idempotent methods only")
        .key("max_response_bytes", &ProxySettings::max_response_bytes, "Larger answers: 502")
        .key("max_request_bytes", &ProxySettings::max_request_bytes, "Larger request bodies: 413")
        .key("max_idle_connections", &ProxySettings::max_idle_connections,
             "Keep-alive connections kept idle")
        .key("idle_timeout", &ProxySettings::idle_timeout, "An idle connection older is closed")
        .key("audience", &ProxySettings::audience, "aud of the identity JWT (default: the name)")
        .key("ca_file", &ProxySettings::ca_file, "CA certificates of an https upstream");

// Hop-by-hop fields (RFC 9110 §7.6.1) and what the gateway sets itself: never forwarded.
const std::set<std::string, std::less<>> kRequestDropped = {"connection",
                                                            "keep-alive",
                                                            "proxy-connection",
                                                            "proxy-authorization",
                                                            "te",
                                                            "trailer",
                                                            "transfer-encoding",
                                                            "upgrade",
                                                            "host",
                                                            "content-length",
                                                            "x-csrf-token",
                                                            "x-request-id",
                                                            "traceparent",
                                                            "tracestate",
                                                            "forwarded",
                                                            "x-forwarded-for",
                                                            "x-forwarded-host",
                                                            "x-forwarded-proto",
                                                            "expect"};
// Besides hop-by-hop fields: cookies the upstream would set on the gateway's origin, and the
// security headers the gateway sets itself (an upstream must not weaken them).
const std::set<std::string, std::less<>> kResponseDropped = {"connection",
                                                             "keep-alive",
                                                             "proxy-connection",
                                                             "proxy-authenticate",
                                                             "te",
                                                             "trailer",
                                                             "transfer-encoding",
                                                             "upgrade",
                                                             "content-length",
                                                             "content-type",
                                                             "set-cookie",
                                                             "set-cookie2",
                                                             "strict-transport-security",
                                                             "content-security-policy",
                                                             "x-frame-options",
                                                             "x-content-type-options",
                                                             "referrer-policy",
                                                             "x-request-id",
                                                             "date",
                                                             "server"};

bool idempotent(http::verb v) {
  return v == http::verb::get || v == http::verb::head || v == http::verb::put ||
         v == http::verb::delete_ || v == http::verb::options;
}

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::array<unsigned char, 16> buf{};
  RAND_bytes(buf.data(), static_cast<int>(bytes));
  return hex(buf.data(), bytes);
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// W3C Trace Context: the caller's trace goes on (with the gateway as the new parent), or a new
// one starts. A malformed or all-zero header is ignored.
std::string traceparent(const std::optional<std::string>& incoming) {
  if (incoming && incoming->size() == 55) {
    const std::string_view t(*incoming);
    const auto trace_id = t.substr(3, 32);
    if (t.substr(0, 3) == "00-" && t[35] == '-' && t[52] == '-' && lower_hex(trace_id) &&
        lower_hex(t.substr(36, 16)) && lower_hex(t.substr(53, 2)) &&
        trace_id != std::string(32, '0'))
      return "00-" + std::string(trace_id) + "-" + random_hex(8) + "-" + std::string(t.substr(53));
  }
  return "00-" + random_hex(16) + "-" + random_hex(8) + "-01";
}

// A decoded path segment written again for the upstream: unreserved characters as they are,
// everything else percent-encoded.
void append_segment(std::string& out, std::string_view segment) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@' || c == ':' ||
        c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' ||
        c == '+' || c == ',' || c == ';' || c == '=') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
}

[[noreturn]] void unavailable(const std::string& why) {
  throw HttpError(502, "upstream_unavailable", why);
}

// Answers up to this size are read whole before the client gets them; larger ones, and those
// of unknown length, are streamed.
constexpr std::uint64_t kWholeUpTo = 64 * 1024;

// The body of a streamed answer, read from the upstream as the client takes it; the connection
// goes back to the pool once the body has ended cleanly.
class UpstreamBody final : public BodyStream {
 public:
  UpstreamBody(std::shared_ptr<UpstreamPool> pool, std::unique_ptr<UpstreamConnection> connection,
               UpstreamConnection::HeadParser&& head, std::chrono::milliseconds timeout)
      : pool_(std::move(pool)),
        connection_(std::move(connection)),
        parser_(std::move(head)),
        timeout_(timeout) {}

  Task<std::size_t> read(std::span<char> into) override {
    if (!connection_) co_return 0;
    std::size_t n = 0;
    // A read may parse framing only (a chunk's size line): read on until bytes or the end.
    while (n == 0 && !parser_.is_done())
      n = co_await connection_->read_some(parser_, into, timeout_);
    if (parser_.is_done()) {
      if (parser_.keep_alive()) pool_->give_back(std::move(connection_));
      connection_.reset();
    }
    co_return n;
  }

 private:
  std::shared_ptr<UpstreamPool> pool_;
  std::unique_ptr<UpstreamConnection> connection_;
  UpstreamConnection::BodyParser parser_;
  std::chrono::milliseconds timeout_;
};

class ProxyPlugin final : public Plugin {
 public:
  explicit ProxyPlugin(std::string name) : name_(std::move(name)) {}

  PluginInfo info() const override {
    return {name_, "1.0.0", "A service proxied by the gateway (kind: proxy)."};
  }
  std::vector<ConfigField> config_schema() const override { return kConfig.schema(); }

  Task<void> start(Host& host) override {
    host_ = &host;
    settings_ = kConfig.read(host.config());
    try {
      upstream_ = Upstream::parse(settings_.upstream);
    } catch (const std::exception& e) {
      throw std::invalid_argument("config.upstream " + settings_.upstream + ": " + e.what());
    }
    if (settings_.audience.empty()) settings_.audience = name_;
    if (upstream_.https) {
      tls_ = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
      tls_->set_default_verify_paths();
      if (!settings_.ca_file.empty()) tls_->load_verify_file(settings_.ca_file.string());
    }
    pool_ = std::make_shared<UpstreamPool>(
        static_cast<std::size_t>(std::max<std::int64_t>(0, settings_.max_idle_connections)),
        settings_.idle_timeout);
    forwarded_ = &host.metrics().counter("forwarded_total", "Requests forwarded upstream");
    failed_ = &host.metrics().counter("upstream_failures_total",
                                      "Upstream exchanges that failed (connect, timeout, reset)");
    host.logger().info("proxying to " + upstream_.host_header + upstream_.base_path);
    co_return;
  }

  std::vector<Route> routes() override {
    std::vector<Route> out;
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      Route r{method, "{path...}", settings_.roles,
              [this](Request request) { return forward(std::move(request)); }};
      r.accepts = {"*/*"};  // any media type: the upstream judges
      r.streams_body = true;
      r.max_body_bytes = static_cast<std::uint64_t>(settings_.max_request_bytes);
      out.push_back(std::move(r));
    }
    return out;
  }

  Task<void> stop() override {
    pool_.reset();
    co_return;
  }

 private:
  // The request's head for the upstream: its path under the upstream's base, the client's
  // headers less what must not pass, and what the gateway adds.
  void fill_head(http::request_header<>& req, Request& r) {
    std::string target = upstream_.base_path + "/";
    const auto& rest = r.path_params["path"];
    std::size_t at = 0;
    while (!rest.empty()) {
      const auto end = std::min(rest.find('/', at), rest.size());
      append_segment(target, std::string_view(rest).substr(at, end - at));
      if (end == rest.size()) break;
      target += '/';
      at = end + 1;
    }
    if (!r.raw_query.empty()) target += "?" + r.raw_query;
    req.method(http::string_to_verb(r.method));
    req.target(target);
    req.version(11);
    for (const auto& [name, value] : r.headers)
      if (!kRequestDropped.count(name) && name.rfind("x-passerelle-", 0) != 0) req.set(name, value);
    req.set(http::field::host, upstream_.host_header);
    req.set("x-request-id", r.request_id);
    req.set("traceparent", traceparent(r.header("traceparent")));
    req.set("x-forwarded-proto", "https");
    if (r.identity)
      req.set(http::field::authorization,
              "Bearer " + host_->identity_token(*r.identity, settings_.audience));
  }

  [[noreturn]] void fail(boost::system::error_code failure) {
    if (failure == boost::beast::error::timeout)
      throw HttpError(504, "upstream_timeout", "the service " + name_ + " did not answer in time");
    if (failure == http::error::body_limit)
      unavailable("the service " + name_ + " answered more than the gateway accepts");
    unavailable("the service " + name_ + " is unreachable");
  }

  Task<Response> forward(Request r) {
    const auto executor = co_await boost::asio::this_coro::executor;
    const http::verb verb = http::string_to_verb(r.method);
    const bool head = verb == http::verb::head;
    // A body read as it comes cannot be sent twice: no second attempt then.
    const bool streamed = r.body_stream != nullptr;
    UpstreamConnection::Request whole;
    UpstreamConnection::StreamedRequest piecewise;
    if (streamed) {
      fill_head(piecewise.base(), r);
      const auto length = r.header("content-length");
      if (length)
        piecewise.set(http::field::content_length, *length);
      else
        piecewise.chunked(true);
      piecewise.body().data = nullptr;
      piecewise.body().more = true;
    } else {
      fill_head(whole.base(), r);
      if (!r.body.empty() || verb == http::verb::post || verb == http::verb::put ||
          verb == http::verb::patch) {
        whole.body() = std::move(r.body);
        whole.prepare_payload();
      }
    }
    whole.keep_alive(true);
    piecewise.keep_alive(true);
    const int attempts =
        idempotent(verb) && !streamed ? 1 + static_cast<int>(settings_.retries) : 1;
    forwarded_->add();
    for (int attempt = 1;; ++attempt) {
      std::unique_ptr<UpstreamConnection> connection = pool_->take(executor);
      const bool reused = connection != nullptr;
      auto parser = std::make_unique<UpstreamConnection::HeadParser>();
      parser->header_limit(64 * 1024);
      parser->body_limit(static_cast<std::uint64_t>(settings_.max_response_bytes));
      if (head) parser->skip(true);
      boost::system::error_code failure;
      bool connecting = false;
      bool answered = false;
      try {
        if (!connection) {
          connecting = true;
          connection = std::make_unique<UpstreamConnection>(executor, tls_.get());
          co_await connection->connect(upstream_, settings_.connect_timeout);
          connecting = false;
        }
        if (streamed)
          co_await connection->send(piecewise, *r.body_stream, settings_.response_timeout);
        else
          co_await connection->send(whole, settings_.response_timeout);
        co_await connection->read_head(*parser, settings_.response_timeout);
        answered = true;
      } catch (const boost::system::system_error& e) {
        failure = e.code();
      }
      if (answered) co_return co_await answer(std::move(connection), std::move(parser));
      failed_->add();
      // A kept-alive connection the upstream closed meanwhile: tried again on a new one, for an
      // idempotent method (a POST may have been received).
      const bool stale = reused && (failure == http::error::end_of_stream ||
                                    failure == boost::asio::error::connection_reset ||
                                    failure == boost::asio::error::eof ||
                                    failure == boost::asio::error::broken_pipe);
      const bool again =
          failure != http::error::body_limit &&
          (attempt < attempts || (stale && idempotent(verb) && !streamed && attempt < 3));
      host_->logger().warn("upstream " + upstream_.host_header + ": " + failure.message() +
                           (connecting ? " (connecting)" : "") + (again ? ", trying again" : "") +
                           " [" + r.request_id + "]");
      if (!again) fail(failure);
    }
  }

  // The answer whose head came: small bodies read whole here, others streamed to the client.
  Task<Response> answer(std::unique_ptr<UpstreamConnection> connection,
                        std::unique_ptr<UpstreamConnection::HeadParser> parser) {
    Response out = respond(parser->get());
    if (parser->is_done()) {  // no body: HEAD, 204, 304, Content-Length: 0
      if (parser->keep_alive()) pool_->give_back(std::move(connection));
      co_return out;
    }
    const auto length = parser->content_length();
    if (length && *length <= kWholeUpTo) {
      UpstreamConnection::WholeParser whole(std::move(*parser));
      boost::system::error_code failure;
      try {
        co_await connection->read_whole(whole, settings_.response_timeout);
      } catch (const boost::system::system_error& e) {
        failure = e.code();
      }
      if (failure) {
        failed_->add();
        fail(failure);
      }
      out.body = std::move(whole.get().body());
      if (whole.keep_alive()) pool_->give_back(std::move(connection));
      co_return out;
    }
    out.stream = std::make_shared<UpstreamBody>(pool_, std::move(connection), std::move(*parser),
                                                settings_.response_timeout);
    out.stream_length = length ? static_cast<std::int64_t>(*length) : -1;
    co_return out;
  }

  Response respond(const http::response_header<>& res) {
    Response out;
    out.status = static_cast<int>(res.result_int());
    if (out.status < 200 || out.status > 599) unavailable("the service answered out of HTTP");
    out.content_type = std::string(res[http::field::content_type]);
    if (out.content_type.empty()) out.content_type = "application/octet-stream";
    for (const auto& field : res) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!kResponseDropped.count(name)) out.headers.emplace_back(name, std::string(field.value()));
    }
    return out;
  }

  std::string name_;
  Host* host_ = nullptr;
  ProxySettings settings_;
  Upstream upstream_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<UpstreamPool> pool_;
  Counter* forwarded_ = nullptr;
  Counter* failed_ = nullptr;
};

}  // namespace

std::unique_ptr<Plugin> make_proxy_plugin(const std::string& name) {
  return std::make_unique<ProxyPlugin>(name);
}

}  // namespace passerelle
