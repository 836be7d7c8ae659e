// The proxy: one route per method under the mount, each request forwarded on a pooled
// keep-alive connection; retries for idempotent methods only; 502 and 504 with a clear error.
#include "proxy/proxy_plugin.hpp"

#include "http/responses.hpp"
#include "proxy/upstream_pool.hpp"
#include "util/text.hpp"

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
using namespace std::string_view_literals;

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
  std::chrono::milliseconds stream_timeout{600000};
  std::string audience;
  std::filesystem::path ca_file;
  bool allow_http = false;
  bool allow_scripts = false;
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
             "Keep-alive connections kept idle, per I/O thread")
        .key("idle_timeout", &ProxySettings::idle_timeout, "An idle connection older is closed")
        .key("audience", &ProxySettings::audience, "aud of the identity JWT (default: the name)")
        .key("stream_timeout", &ProxySettings::stream_timeout,
             "A streamed request body or answer, from its start to its end, at most")
        .key("ca_file", &ProxySettings::ca_file,
             "CA certificates of an https upstream, in place of the system's")
        .key("allow_http", &ProxySettings::allow_http,
             "http:// to a host other than loopback (the identity JWT in clear)")
        .key("allow_scripts", &ProxySettings::allow_scripts,
             "Pass JavaScript answers (they would run on the gateway's origin)");

// Hop-by-hop fields (RFC 9110 §7.6.1), what the gateway sets itself, and what upstreams
// commonly trust for the client's address or to rewrite the path: never forwarded. So are any
// x-forwarded-*, x-passerelle-*, names with '_' (CGI and its kin read them as '-') and the
// names the client's Connection header lists.
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
                                                            "expect",
                                                            "x-real-ip",
                                                            "true-client-ip",
                                                            "x-client-ip",
                                                            "x-cluster-client-ip",
                                                            "x-original-url",
                                                            "x-rewrite-url",
                                                            "x-http-method",
                                                            "x-http-method-override",
                                                            "x-method-override"};
// Besides hop-by-hop fields: cookies the upstream would set on the gateway's origin, the
// security and cache headers the gateway sets itself (an upstream may not weaken them), and
// what would act on the whole origin (site data, service workers, cross-origin grants).
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
                                                             "content-security-policy-report-only",
                                                             "x-frame-options",
                                                             "x-content-type-options",
                                                             "referrer-policy",
                                                             "x-request-id",
                                                             "date",
                                                             "server",
                                                             "cache-control",
                                                             "clear-site-data",
                                                             "service-worker-allowed",
                                                             "alt-svc",
                                                             "www-authenticate",
                                                             "permissions-policy",
                                                             "cross-origin-opener-policy",
                                                             "cross-origin-embedder-policy",
                                                             "cross-origin-resource-policy",
                                                             "refresh",
                                                             "link"};

bool dropped_request_header(const std::string& name, const std::set<std::string>& listed) {
  return kRequestDropped.count(name) || name.rfind("x-forwarded-", 0) == 0 ||
         name.rfind("x-passerelle-", 0) == 0 || name.find('_') != std::string::npos ||
         listed.count(name);
}

// Whether a field of an upstream's answer passes (AnswerParser::Keep): by Beast's number for the
// names it knows, no lookup by text; the others by their lower-case name.
bool kept_response_field(http::field known, std::string_view name) {
  // Indexed by Beast's numbers, from unknown (0) to its last, xref.
  static const std::vector<bool> dropped = [] {
    std::vector<bool> out(static_cast<std::size_t>(http::field::xref) + 1);
    for (std::size_t f = 1; f < out.size(); ++f) {
      std::string name(http::to_string(static_cast<http::field>(f)));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out[f] = kResponseDropped.count(name) || name.starts_with("access-control-");
    }
    return out;
  }();
  if (known != http::field::unknown) {
    const auto f = static_cast<std::size_t>(known);
    return f >= dropped.size() || !dropped[f];  // a field of a later Beast: passed, as unknown
  }
  return name.empty() || (kResponseDropped.find(name) == kResponseDropped.end() &&
                          !name.starts_with("access-control-"));
}

// The names a Connection header lists (hop-by-hop by the client's say), lower case.
std::set<std::string> connection_tokens(const std::optional<std::string>& value) {
  std::set<std::string> out;
  if (!value) return out;
  std::string token;
  for (char c : *value + ",") {
    if (c == ',') {
      if (!token.empty()) out.insert(token);
      token.clear();
    } else if (c != ' ' && c != '\t') {
      token += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

// A Content-Length as a number: "5" or a list of equal values ("5, 5"); else nothing.
std::optional<std::uint64_t> content_length(const std::string& text) {
  std::optional<std::uint64_t> value;
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto end = std::min(text.find(',', at), text.size());
    std::string part = text.substr(at, end - at);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (part.empty() || part.size() > 19 ||
        part.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    const std::uint64_t n = std::stoull(part);
    if (value && *value != n) return std::nullopt;
    value = n;
    at = end + 1;
  }
  return value;
}

// Media types that a browser would run as script on the gateway's origin.
bool is_script(std::string_view type) {
  static constexpr std::array<std::string_view, 7> kScripts = {
      "text/javascript",        "application/javascript", "application/x-javascript",
      "application/ecmascript", "text/ecmascript",        "text/jscript",
      "application/wasm"};
  type = trim_blanks(type.substr(0, type.find(';')));
  return std::any_of(kScripts.begin(), kScripts.end(),
                     [type](std::string_view script) { return iequals(type, script); });
}

bool idempotent(http::verb v) {
  return v == http::verb::get || v == http::verb::head || v == http::verb::put ||
         v == http::verb::delete_ || v == http::verb::options;
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// W3C Trace Context, appended to `out`: the caller's trace goes on (with the gateway as the new
// parent), or a new one starts. A malformed or all-zero header is ignored. Ids need to be
// unique, not secret: they come from the request ids' per-thread generator, with no system
// call.
void append_traceparent(std::string& out, const std::string* incoming) {
  std::array<char, 32> fresh;
  new_request_id(fresh);
  const std::string_view parent_id(fresh.data(), 16);
  if (incoming && incoming->size() == 55) {
    const std::string_view t(*incoming);
    const auto trace_id = t.substr(3, 32);
    if (t.substr(0, 3) == "00-" && t[35] == '-' && t[52] == '-' && lower_hex(trace_id) &&
        lower_hex(t.substr(36, 16)) && lower_hex(t.substr(53, 2)) &&
        trace_id != std::string_view("00000000000000000000000000000000")) {
      out.append(t.substr(0, 36)).append(parent_id).append(t.substr(52));
      return;
    }
  }
  out.append("00-").append(fresh.data(), 32).append("-");
  new_request_id(fresh);
  out.append(parent_id).append("-01");
}

// A decoded path segment written again for the upstream: unreserved characters (RFC 3986) as
// they are, everything else percent-encoded, so that no ';' or '%' of the client's becomes a
// delimiter upstream ("..;/" is ".." to some servers).
void append_segment(std::string& out, std::string_view segment) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  for (unsigned char c : segment) {
    if (is_unreserved(static_cast<char>(c))) {
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
               std::unique_ptr<AnswerParser> parser, std::chrono::milliseconds timeout,
               std::chrono::milliseconds whole)
      : pool_(std::move(pool)),
        connection_(std::move(connection)),
        parser_(std::move(parser)),
        timeout_(timeout),
        deadline_(std::chrono::steady_clock::now() + whole) {}

  Task<std::size_t> read(std::span<char> into) override {
    if (!connection_) co_return 0;
    std::size_t n = 0;
    // A read may parse framing only (a chunk's size line): read on until bytes or the end.
    while (n == 0 && !parser_->is_done()) {
      // Each read within the response timeout, the whole answer within stream_timeout: a
      // client or an upstream that drips cannot hold the connection and a slot for good.
      if (std::chrono::steady_clock::now() >= deadline_)
        throw std::runtime_error("the streamed answer took longer than stream_timeout");
      n = co_await connection_->read_some(*parser_, into, timeout_);
    }
    if (parser_->is_done()) {
      if (parser_->keep_alive()) pool_->give_back(std::move(connection_));
      connection_.reset();
    }
    co_return n;
  }

 private:
  std::shared_ptr<UpstreamPool> pool_;
  std::unique_ptr<UpstreamConnection> connection_;
  std::unique_ptr<AnswerParser> parser_;
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point deadline_;
};

// The body of an answer to a HEAD: none, of the length a GET would have had.
class NoBody final : public BodyStream {
 public:
  Task<std::size_t> read(std::span<char>) override { co_return 0; }
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
    const auto positive = [](std::int64_t v, std::int64_t most, const char* key) {
      if (v < 1 || v > most)
        throw std::invalid_argument(std::string("config.") + key + ": 1 to " +
                                    std::to_string(most));
    };
    positive(settings_.max_response_bytes, std::int64_t{1} << 40, "max_response_bytes");
    positive(settings_.max_request_bytes, std::int64_t{1} << 40, "max_request_bytes");
    positive(settings_.max_idle_connections + 1, 10001, "max_idle_connections (0 to 10000)");
    positive(settings_.retries + 1, 6, "retries (0 to 5)");
    for (auto [value, key] : {std::pair{settings_.connect_timeout, "connect_timeout"},
                              std::pair{settings_.response_timeout, "response_timeout"},
                              std::pair{settings_.idle_timeout, "idle_timeout"},
                              std::pair{settings_.stream_timeout, "stream_timeout"}})
      positive(value.count(), 24 * 3600 * 1000, key);
    const bool loopback =
        upstream_.host == "127.0.0.1" || upstream_.host == "::1" || upstream_.host == "localhost";
    if (!upstream_.https && !loopback && !settings_.allow_http)
      throw std::invalid_argument("config.upstream " + settings_.upstream +
                                  ": http:// only on loopback (the identity would travel in "
                                  "clear), unless allow_http: true");
    if (upstream_.https) {
      tls_ = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
      // A CA file of its own replaces the system's: no public CA vouches for an internal name.
      if (settings_.ca_file.empty())
        tls_->set_default_verify_paths();
      else
        tls_->load_verify_file(settings_.ca_file.string());
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
              [this](Request&& request) { return forward(std::move(request)); }};
      r.accepts = {"*/*"};  // any media type: the upstream judges
      r.streams_body = true;
      r.bounded = true;  // connect_timeout, response_timeout and stream_timeout bound each wait
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
  // The request's head for the upstream, as bytes: its path under the upstream's base, the
  // client's headers less what must not pass, and what the gateway adds. The client's names
  // and values came through the gateway's HTTP parser (tokens; no CR, LF or NUL in a value);
  // the rest is the gateway's own.
  std::string head_bytes(const Request& r, std::string_view framing) {
    std::string out;
    out.reserve(512 + r.raw_query.size() + 64 * r.headers.size());
    out += r.method;
    out += ' ';
    out += upstream_.base_path;
    out += '/';
    const auto it = r.path_params.find("path");
    const std::string_view rest = it == r.path_params.end() ? "" : it->second;
    std::size_t at = 0;
    while (!rest.empty()) {
      const auto end = std::min(rest.find('/', at), rest.size());
      append_segment(out, rest.substr(at, end - at));
      if (end == rest.size()) break;
      out += '/';
      at = end + 1;
    }
    if (!r.raw_query.empty()) {
      out += '?';
      out += r.raw_query;
    }
    out += " HTTP/1.1\r\nHost: "sv;
    out += upstream_.host_header;
    const auto field = [&out](std::string_view name, std::string_view value) {
      out += "\r\n"sv;
      out += name;
      out += ": "sv;
      out += value;
    };
    const auto connection = r.headers.find("connection");
    const std::set<std::string> listed = connection_tokens(
        connection == r.headers.end() ? std::nullopt : std::optional(connection->second));
    for (const auto& [name, value] : r.headers)
      if (!dropped_request_header(name, listed) &&
          value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos)
        field(name, value);
    field("X-Request-Id", r.request_id);
    const auto incoming = r.headers.find("traceparent");
    out += "\r\ntraceparent: "sv;
    append_traceparent(out, incoming == r.headers.end() ? nullptr : &incoming->second);
    field("X-Forwarded-Proto", "https");
    if (r.identity)
      field("Authorization", "Bearer " + host_->identity_token(*r.identity, settings_.audience));
    out += framing;  // "\r\nContent-Length: n", "\r\nTransfer-Encoding: chunked" or nothing
    out += "\r\n\r\n"sv;
    return out;
  }

  [[noreturn]] void fail(boost::system::error_code failure) {
    if (failure == boost::beast::error::timeout)
      throw HttpError(504, "upstream_timeout", "the service " + name_ + " did not answer in time");
    if (failure == http::error::body_limit)
      unavailable("the service " + name_ + " answered more than the gateway accepts");
    unavailable("the service " + name_ + " is unreachable");
  }

  std::unique_ptr<AnswerParser> head_parser(bool head) const {
    auto parser = std::make_unique<AnswerParser>(&kept_response_field);
    parser->header_limit(64 * 1024);
    parser->body_limit(static_cast<std::uint64_t>(settings_.max_response_bytes));
    if (head) parser->skip(true);
    return parser;
  }

  // The request as the upstream gets it, made at once from the client's: the exchange's
  // coroutine then holds these bytes and a few flags rather than the whole Request (704 bytes),
  // and its frame stays under 1 KiB, which malloc's per-thread cache keeps.
  struct Outgoing {
    std::string bytes;                  // the head, and the body when it was read whole
    BodyStream* body_stream = nullptr;  // else the body, read as it comes
    bool chunked = false;               // ... and sent chunked
    bool head = false;                  // a HEAD: its answer has no body
    bool resendable = false;            // may be sent again on another connection
    std::string request_id;
  };

  Task<Response> forward(Request r) { return exchange(outgoing(r)); }

  // Takes the request's id (the request goes once this returns).
  Outgoing outgoing(Request& r) {
    const http::verb verb = http::string_to_verb(r.method);
    const bool head = verb == http::verb::head;
    // A GET or HEAD with a body is how requests are smuggled to servers that do not read
    // one: refused.
    if ((verb == http::verb::get || head) && (r.body_stream || !r.body.empty()))
      throw HttpError(400, "bad_request", "a " + r.method + " request has no body here");
    Outgoing out;
    out.body_stream = r.body_stream;
    out.head = head;
    if (out.body_stream) {
      // The length as a number the gateway read, never the client's text; else chunked.
      const auto text = r.header("content-length");
      const auto length = text ? content_length(*text) : std::nullopt;
      if (text && !length) throw HttpError(400, "bad_request", "malformed Content-Length");
      out.chunked = !length;
      out.bytes = head_bytes(r, length ? "\r\nContent-Length: " + std::to_string(*length)
                                       : "\r\nTransfer-Encoding: chunked");
    } else {
      const bool framed = !r.body.empty() || verb == http::verb::post || verb == http::verb::put ||
                          verb == http::verb::patch;
      out.bytes = head_bytes(
          r, framed ? "\r\nContent-Length: " + std::to_string(r.body.size()) : std::string());
      out.bytes += r.body;
    }
    // A body read as it comes cannot be sent twice: no second attempt then.
    out.resendable = idempotent(verb) && !out.body_stream;
    out.request_id = std::move(r.request_id);
    return out;
  }

  Task<Response> exchange(Outgoing out) {
    const auto executor = co_await boost::asio::this_coro::executor;
    const bool head = out.head;
    const bool streamed = out.body_stream != nullptr;
    const bool resendable = out.resendable;
    const std::string& request = out.bytes;
    const int attempts = resendable ? 1 + static_cast<int>(settings_.retries) : 1;
    forwarded_->add();
    bool found_stale = false;
    for (int attempt = 1;; ++attempt) {
      std::unique_ptr<UpstreamConnection> connection = pool_->take(executor);
      const bool reused = connection != nullptr;
      auto parser = head_parser(head);
      boost::system::error_code failure;
      bool connecting = false;
      bool answered = false;
      bool heard = false;  // an answer's head came on this attempt: the request was received
      try {
        if (!connection) {
          connecting = true;
          connection = std::make_unique<UpstreamConnection>(executor, tls_.get());
          co_await connection->connect(upstream_, settings_.connect_timeout);
          connecting = false;
        }
        if (streamed)
          co_await connection->write_streamed(
              request, *out.body_stream, out.chunked, settings_.response_timeout,
              std::chrono::steady_clock::now() + settings_.stream_timeout);
        else if (const std::size_t sent = connection->write_now(request); sent < request.size()) {
          // Most requests go out whole at once, with no wait; the rest of this one waits.
          const std::string_view rest = std::string_view(request).substr(sent);
          co_await connection->write(rest, settings_.response_timeout);
        }
        // The final answer's head within response_timeout, interim answers included.
        const auto due = std::chrono::steady_clock::now() + settings_.response_timeout;
        co_await connection->read(*parser, false, settings_.response_timeout);
        heard = true;
        // Interim answers (100 Continue, 103 Early Hints) come before the final one: skipped,
        // a few at most. 101 (a protocol switch) is refused below.
        for (int interim = 0; interim < 4 && parser->status() / 100 == 1 && parser->status() != 101;
             ++interim) {
          parser = head_parser(head);
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              due - std::chrono::steady_clock::now());
          co_await connection->read(*parser, false, std::max(left, std::chrono::milliseconds(1)));
        }
        answered = true;
      } catch (const boost::system::system_error& e) {
        failure = e.code();
      }
      if (answered) {
        // Most answers came whole with their head: answered with no further coroutine.
        if (auto now = answer_now(connection, *parser, head)) co_return std::move(*now);
        co_return co_await answer(std::move(connection), std::move(parser));
      }
      // A kept-alive connection the upstream closed between the check and the request: tried
      // again on another, for a request that can be sent again (a POST may have been
      // received). Not a failure.
      const bool stale =
          reused && !heard &&
          (failure == http::error::end_of_stream ||
           failure == boost::asio::error::connection_reset || failure == boost::asio::error::eof ||
           failure == boost::asio::error::broken_pipe);
      if (stale && resendable && !found_stale) {
        found_stale = true;
        --attempt;
        continue;
      }
      failed_->add();
      const bool again = failure != http::error::body_limit &&
                         (attempt < attempts || (stale && resendable && attempt < 3));
      host_->logger().warn("upstream " + upstream_.host_header + ": " + failure.message() +
                           (connecting ? " (connecting)" : "") + (again ? ", trying again" : "") +
                           " [" + out.request_id + "]");
      if (!again) fail(failure);
    }
  }

  // The answer whose head came, when nothing more is to be read: no body (HEAD, 204, 304,
  // Content-Length: 0), or a small one the connection holds whole already.
  std::optional<Response> answer_now(std::unique_ptr<UpstreamConnection>& connection,
                                     AnswerParser& parser, bool head) {
    const auto length = parser.content_length();
    if (parser.is_done()) {
      Response out = respond(parser);
      // After a HEAD the upstream may send a body anyway: that connection is not used again.
      if (parser.keep_alive() && !head) pool_->give_back(std::move(connection));
      // A HEAD's answer keeps the length a GET would have had.
      if (head && length) {
        out.stream = std::make_shared<NoBody>();
        out.stream_length = static_cast<std::int64_t>(*length);
      }
      return out;
    }
    if (!length || *length > kWholeUpTo) return std::nullopt;
    try {
      if (!connection->take_buffered(parser, true)) return std::nullopt;
    } catch (const boost::system::system_error& e) {  // a malformed body
      failed_->add();
      fail(e.code());
    }
    Response out = respond(parser);
    out.body = parser.take_body();
    if (parser.keep_alive()) pool_->give_back(std::move(connection));
    return out;
  }

  // The rest of an answer: a small body read whole here, a larger one streamed to the client.
  Task<Response> answer(std::unique_ptr<UpstreamConnection> connection,
                        std::unique_ptr<AnswerParser> parser) {
    Response out = respond(*parser);
    const auto length = parser->content_length();
    if (length && *length <= kWholeUpTo) {
      boost::system::error_code failure;
      try {
        co_await connection->read(*parser, true, settings_.response_timeout);
      } catch (const boost::system::system_error& e) {
        failure = e.code();
      }
      if (failure) {
        failed_->add();
        fail(failure);
      }
      out.body = parser->take_body();
      if (parser->keep_alive()) pool_->give_back(std::move(connection));
      co_return out;
    }
    out.stream_length = length ? static_cast<std::int64_t>(*length) : -1;
    out.stream =
        std::make_shared<UpstreamBody>(pool_, std::move(connection), std::move(parser),
                                       settings_.response_timeout, settings_.stream_timeout);
    co_return out;
  }

  Response respond(AnswerParser& answer) {
    Response out = blank_response();
    out.status = answer.status();
    out.content_type = answer.take_content_type();
    if (out.status < 200 || out.status > 599) unavailable("the service answered out of HTTP");
    if (out.content_type.empty()) out.content_type = "application/octet-stream";
    if (is_script(out.content_type) && !settings_.allow_scripts)
      unavailable("the service " + name_ + " answered a script, which the gateway does not serve");
    out.headers = answer.take_fields();
    // What the upstream serves runs in a sandbox, not as the gateway's origin: a page of it
    // may neither script nor read the portal's session or CSRF token. (Its own policy, if it
    // sent one, was dropped: it may not weaken this one.)
    out.sandboxed = true;
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
