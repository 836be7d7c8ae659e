// The HTTP/1.1 request loop shared by the TLS and the redirect sessions: read with limits and
// deadlines, answer, write, repeat while keep-alive holds. Include in one .cpp per stream type.
#pragma once

#include "http/responses.hpp"
#include "log/access_log.hpp"
#include "log/log.hpp"
#include "server/framing.hpp"
#include "server/sessions.hpp"
#include "util/ip_address.hpp"
#include "util/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace passerelle {

namespace beast = boost::beast;
namespace http = boost::beast::http;

/// Lends the session's socket to the tracker's closer while the session runs.
class TrackedSession {
 public:
  TrackedSession(std::shared_ptr<SessionState> state, boost::asio::ip::tcp::socket& socket)
      : state_(std::move(state)) {
    state_->socket = &socket;
  }
  ~TrackedSession() { state_->socket = nullptr; }
  TrackedSession(const TrackedSession&) = delete;
  TrackedSession& operator=(const TrackedSession&) = delete;
  SessionState& state() { return *state_; }

 private:
  std::shared_ptr<SessionState> state_;
};

// Framing is the session's: a handler's Content-Length, Transfer-Encoding or Connection would
// contradict the one written here.
inline bool is_framing_header(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "connection");
}

// Each common header's line ("Name: value\r\n"), built once; `sandboxed`: with the sandbox's
// policy (Response::sandboxed).
inline const std::vector<std::string>& common_header_lines(bool sandboxed) {
  static const auto build = [](bool sandbox) {
    std::vector<std::string> out;
    for (const CommonHeader& h : common_headers()) {
      const bool policy = sandbox && h.name == "Content-Security-Policy";
      out.push_back(std::string(h.name)
                        .append(": ")
                        .append(policy ? kSandboxPolicy : h.value)
                        .append("\r\n"));
    }
    return out;
  };
  static const std::vector<std::string> plain = build(false);
  static const std::vector<std::string> sandbox = build(true);
  return sandboxed ? sandbox : plain;
}

// The common headers as one block of text, built once for each case: most answers set none of
// them.
inline std::string_view common_header_block(bool https, bool sandboxed) {
  static const auto build = [](bool with_hsts, bool sandbox) {
    std::string block;
    const auto common = common_headers();
    for (std::size_t i = 0; i < common.size(); ++i)
      if (with_hsts || !common[i].https_only) block += common_header_lines(sandbox)[i];
    return block;
  };
  static const std::array<std::string, 4> blocks = {build(false, false), build(false, true),
                                                    build(true, false), build(true, true)};
  return blocks[(https ? 2 : 0) + (sandboxed ? 1 : 0)];
}

// The head of an answer, written into `out` (kept by the connection, so that it allocates only
// when it grows): status line, Content-Type, the handler's headers, X-Request-Id, Date, the
// common headers the handler did not set, Content-Length (none for a 204 or a 304, RFC 9110
// §8.6; "Transfer-Encoding: chunked" instead for a streamed body of unknown length) and
// "Connection: close" when the connection ends. Beast's message and serializer did
// this with an allocation per field; names and values were checked by the dispatcher.
/// How a body's end is told: its length, chunked, or (an HTTP/1.0 client's streamed answer of
/// unknown length) the connection's close.
enum class Framing { length, chunked, until_close };

inline void write_head(std::string& out, const Response& r, std::size_t content_length,
                       bool keep_alive, std::string_view request_id, bool https,
                       Framing framing = Framing::length) {
  using namespace std::string_view_literals;
  out.clear();
  char number[24];
  const auto status_end = std::to_chars(number, number + sizeof number, r.status).ptr;
  out.append("HTTP/1.1 "sv).append(number, status_end) += ' ';
  out.append(http::obsolete_reason(static_cast<http::status>(r.status))).append("\r\n"sv);
  out.append("Content-Type: "sv).append(r.content_type).append("\r\n"sv);
  // One pass over the handler's headers: written, and looked up among the common ones.
  const auto common = common_headers();
  unsigned handler_set = 0;  // bit i: the handler set common_headers()[i]
  bool dated = false;
  for (const auto& [name, value] : r.headers) {
    if (is_framing_header(name)) continue;
    out.append(name).append(": "sv).append(value).append("\r\n"sv);
    dated = dated || iequals(name, "Date");
    for (std::size_t i = 0; i < common.size(); ++i)
      if (iequals(name, common[i].name)) handler_set |= 1u << i;
  }
  out.append("X-Request-Id: "sv).append(request_id).append("\r\n"sv);
  if (!dated) out.append("Date: "sv).append(http_date_now()).append("\r\n"sv);
  if (handler_set == 0) {
    out.append(common_header_block(https, r.sandboxed));
  } else {
    for (std::size_t i = 0; i < common.size(); ++i)
      if (!(handler_set & (1u << i)) && (https || !common[i].https_only))
        out += common_header_lines(r.sandboxed)[i];
  }
  if (r.status == 204 || r.status == 304 || framing == Framing::until_close) {
    // No body, or one that ends with the connection.
  } else if (framing == Framing::chunked) {
    out.append("Transfer-Encoding: chunked\r\n"sv);
  } else {
    const auto length_end = std::to_chars(number, number + sizeof number, content_length).ptr;
    out.append("Content-Length: "sv).append(number, length_end).append("\r\n"sv);
  }
  if (!keep_alive) out.append("Connection: close\r\n"sv);
  out.append("\r\n"sv);
}

// The head's fields with lower-case names. Taken before the body is read: trailer fields,
// which Beast adds to the same header, never reach the core or a plugin.
inline std::vector<std::pair<std::string, std::string>> lower_case_fields(
    const http::request_header<>& head) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(8);
  for (const auto& field : head) {
    std::string name(field.name_string());
    // Names are tokens (the parser checked): ASCII, no locale call per character.
    std::transform(name.begin(), name.end(), name.begin(), ascii_lower);
    out.emplace_back(std::move(name), std::string(field.value()));
  }
  return out;
}

inline std::optional<FramingError> check_framing(const http::request_header<>& head) {
  // Views into the head, in a vector each thread reuses: no allocation per request.
  thread_local std::vector<HeaderField> fields;
  fields.clear();
  for (const auto& field : head) fields.emplace_back(field.name_string(), field.value());
  return framing_error(fields, head.version());
}

/// A stream with non-blocking attempts (TlsStream): the loop reads and writes at once what the
/// socket allows and waits on the reactor only when it must, instead of a posted operation
/// for every read and write.
template <class Stream>
concept NonBlockingStream = requires(Stream& s) {
  s.nonblocking();
  s.has_buffered();
  s.async_ready(boost::asio::use_awaitable);
};

/// Runs `step(ec)`, a non-blocking step on a NonBlockingStream that said would_block, again
/// each time the socket is ready, until it ends otherwise: its error, or none. Called only
/// after a first try, so that the common case (done at once) costs no coroutine frame.
template <class Stream, class Step>
boost::asio::awaitable<boost::system::error_code> retry_when_ready(Stream& stream, Step& step) {
  boost::system::error_code ec = boost::asio::error::would_block;
  while (ec == boost::asio::error::would_block) {
    auto [ready] = co_await stream.async_ready(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ready) co_return stream.ready_error(ready);
    step(ec);
  }
  co_return ec;
}

// Whether a request head announces a multipart/form-data body (an upload, maybe).
inline bool is_multipart_form(const http::request_header<>& head) {
  const auto type = head[http::field::content_type];
  static constexpr std::string_view kForm = "multipart/form-data";
  return type.size() >= kForm.size() && iequals(type.substr(0, kForm.size()), kForm);
}

/// The body of an upload route, read as the application asks (BodySource): into the caller's
/// buffer, never whole. "100 Continue" goes out at the first read, once the route has admitted
/// the caller. Each read waits at most body_timeout, and the whole body streaming.timeout.
template <class Stream>
class StreamedBody final : public BodySource {
 public:
  StreamedBody(Stream& stream, beast::flat_buffer& buffer,
               http::request_parser<http::buffer_body>& parser, const LimitsConfig& limits,
               const BodyStreaming& streaming, bool expects_continue)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        limits_(limits),
        deadline_(std::chrono::steady_clock::now() + streaming.timeout),
        expects_continue_(expects_continue) {}

  Task<std::size_t> read(std::span<char> into) override {
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;
    if (parser_.is_done() || into.empty()) co_return 0;
    if (failed_) throw HttpError(400, "upload_interrupted", "the upload broke off");
    auto& tcp = beast::get_lowest_layer(stream_);
    boost::system::error_code ec;
    if (expects_continue_) {
      expects_continue_ = false;
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      tcp.expires_after(limits_.write_timeout);
      std::tie(ec, std::ignore) =
          co_await http::async_write(stream_, go_on, as_tuple(use_awaitable));
      if (ec) fail(ec);
    }
    const auto left = deadline_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) fail(beast::error::timeout);
    tcp.expires_after(std::min<std::chrono::steady_clock::duration>(limits_.body_timeout, left));
    auto& body = parser_.get().body();
    body.data = into.data();
    body.size = into.size();
    // What has come, as soon as something has: the caller writes it out meanwhile.
    if constexpr (NonBlockingStream<Stream>) {
      auto now = stream_.nonblocking();
      for (;;) {
        http::read(now, buffer_, parser_, ec);
        if (ec != boost::asio::error::would_block || body.size < into.size()) break;
        auto [ready] = co_await stream_.async_ready(as_tuple(use_awaitable));
        if (ready) {
          ec = stream_.ready_error(ready);
          break;
        }
      }
      if (ec == boost::asio::error::would_block) ec = {};
    } else {
      std::tie(ec, std::ignore) =
          co_await http::async_read_some(stream_, buffer_, parser_, as_tuple(use_awaitable));
    }
    const std::size_t n = into.size() - body.size;
    body.data = nullptr;
    if (ec && ec != http::error::need_buffer) fail(ec);
    co_return n;
  }

 private:
  [[noreturn]] void fail(boost::system::error_code ec) {
    failed_ = true;
    if (ec == http::error::body_limit)
      throw HttpError(413, "payload_too_large", "the upload exceeds its size limit");
    if (ec == beast::error::timeout)
      throw HttpError(408, "request_timeout", "the upload did not arrive in time");
    throw HttpError(400, "upload_interrupted", "the upload broke off");
  }

  Stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  const LimitsConfig& limits_;
  std::chrono::steady_clock::time_point deadline_;
  bool expects_continue_;
  bool failed_ = false;
};

/// What writing a streamed answer came to.
struct StreamedAnswer {
  boost::system::error_code error;  // writing to the client failed
  std::size_t bytes = 0;            // body bytes sent
  bool cut_short = false;           // the stream failed or lied about its length: close
  bool closes = false;              // its end is the connection's close (HTTP/1.0)
};

/// Bytes of a streamed answer read and written at a time.
inline constexpr std::size_t kStreamChunk = 16 * 1024;

/// A streamed answer (Response::stream): the head, then the body as the stream gives it, each
/// write within write_timeout; chunked unless its length is known. A HEAD, a 204 and a 304 send
/// the head only. A stream that throws or does not give the length it announced ends the
/// connection: the client sees the answer cut short, never a wrong one.
template <class Stream>
boost::asio::awaitable<StreamedAnswer> write_streamed(Stream& stream, Response& response,
                                                      bool keep_alive, bool http10, bool head,
                                                      std::string& head_text,
                                                      std::string_view request_id, bool https,
                                                      const LimitsConfig& limits) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  auto& tcp = beast::get_lowest_layer(stream);
  StreamedAnswer out;
  std::shared_ptr<BodyStream> body = std::move(response.stream);
  const bool known = response.stream_length >= 0;
  const auto length = static_cast<std::uint64_t>(known ? response.stream_length : 0);
  const bool no_body = head || response.status == 204 || response.status == 304;
  // HTTP/1.0 has no chunks (RFC 9112 §6.1): a body of unknown length ends with the connection.
  // A HEAD gets the head a GET would have: no Transfer-Encoding either.
  const bool until_close = !known && http10;
  // The caller closes the connection after this answer when keep_alive is false.
  if (until_close && !no_body) out.closes = true;
  write_head(head_text, response, static_cast<std::size_t>(length), keep_alive && !out.closes,
             request_id, https,
             known ? Framing::length : (until_close ? Framing::until_close : Framing::chunked));
  const bool chunked = !known && !until_close;
  tcp.expires_after(limits.write_timeout);
  std::tie(out.error, std::ignore) = co_await boost::asio::async_write(
      stream, boost::asio::buffer(head_text), as_tuple(use_awaitable));
  if (out.error || no_body) co_return out;
  std::unique_ptr<char[]> chunk(new char[kStreamChunk]);
  std::uint64_t sent = 0;
  for (;;) {
    tcp.expires_never();  // the stream has its own timeouts
    std::size_t n = 0;
    bool failed = false;
    try {
      n = co_await body->read(std::span<char>(chunk.get(), kStreamChunk));
    } catch (const std::exception& e) {
      log::warn("http", "a streamed answer failed",
                {{"request_id", request_id}, {"error", e.what()}});
      failed = true;
    }
    if (failed || (known && sent + n > length)) {
      out.cut_short = true;
      break;
    }
    if (n == 0) break;
    char size_line[24];
    const auto size_end = std::to_chars(size_line, size_line + 16, n, 16).ptr;
    *size_end = '\r';
    *(size_end + 1) = '\n';
    const std::size_t size_length = static_cast<std::size_t>(size_end + 2 - size_line);
    const std::array<boost::asio::const_buffer, 3> parts{
        boost::asio::buffer(size_line, chunked ? size_length : 0),
        boost::asio::buffer(chunk.get(), n), boost::asio::buffer("\r\n", chunked ? 2 : 0)};
    tcp.expires_after(limits.write_timeout);
    std::tie(out.error, std::ignore) =
        co_await boost::asio::async_write(stream, parts, as_tuple(use_awaitable));
    if (out.error) co_return out;
    sent += n;
    out.bytes = static_cast<std::size_t>(sent);
  }
  if (!out.cut_short && known && sent != length) out.cut_short = true;
  if (!out.cut_short && chunked) {
    tcp.expires_after(limits.write_timeout);
    std::tie(out.error, std::ignore) = co_await boost::asio::async_write(
        stream, boost::asio::buffer("0\r\n\r\n", 5), as_tuple(use_awaitable));
  }
  co_return out;
}

/// Answers given in a row on one connection before it lets the others run (pipelining).
inline constexpr unsigned kServedInARow = 16;

// Bytes the read buffer may hold beyond a full request head: pipelined bytes, one chunk-size
// line with its extensions, the trailer section. Beast keeps a chunk line or a trailer section
// whole in the buffer until it ends, so without this bound a client could grow it forever.
inline constexpr std::size_t kReadSlack = 4096;

/// How a connection's request loop ended.
enum class LoopEnd {
  quiet,    // the client left, keep-alive ended, a timeout or shutdown
  refused,  // we answered an error and closed: unread request bytes may still be on the way
  parked,   // idle for `park_after`: the caller keeps the connection without this coroutine
  aborted,  // an answer cut short whose end only the close tells (HTTP/1.0): reset, so that the
            // client sees it cut, never a clean end
};

/// How one request-answer turn ended.
enum class Turn { next, end, refused, aborted };

// One request read from `buffer` (and the stream), answered and written. A coroutine of its
// own so that its frame (parser, request, response: about 1.9 KiB in the dev build) exists only
// while a request is served, not while the connection waits for the next one.
template <class Stream, class Respond>
boost::asio::awaitable<Turn> serve_request(Stream& stream, beast::flat_buffer& buffer,
                                           std::string& head_text, SessionState& state,
                                           SessionEnv& env, bool https, Respond& respond) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  auto& tcp = beast::get_lowest_layer(stream);
  const LimitsConfig& limits = env.server.limits;
  std::string_view remote = state.remote;  // or, behind a load balancer, its client
  std::string forwarded;
  const auto started = std::chrono::steady_clock::now();
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
  // No limit while the head is read: Beast would measure a Content-Length against it before
  // the route is known, and an upload route has its own (set below, once the head is in).
  parser.body_limit(boost::none);

  // The whole head must arrive within header_timeout: a client trickling bytes is cut off.
  tcp.expires_after(limits.header_timeout);
  boost::system::error_code ec;
  if constexpr (NonBlockingStream<Stream>) {
    auto now = stream.nonblocking();
    auto step = [&](boost::system::error_code& e) { http::read_header(now, buffer, parser, e); };
    step(ec);
    if (ec == boost::asio::error::would_block) ec = co_await retry_when_ready(stream, step);
  } else {
    std::tie(ec, std::ignore) =
        co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
  }
  std::optional<FramingError> refused;
  std::vector<std::pair<std::string, std::string>> fields;
  if (!ec) {
    refused = check_framing(parser.get().base());
    fields = lower_case_fields(parser.get().base());
  }
  // An upload route's body is read later, as the application goes (StreamedBody), within the
  // route's limit; any other body now, within server.limits.body_bytes. A declared length over
  // the limit is refused at once; chunks are counted as they come.
  std::unique_ptr<http::request_parser<http::buffer_body>> streamed_parser;
  std::unique_ptr<StreamedBody<Stream>> streamed;
  std::uint64_t body_limit = limits.body_bytes;
  if (!ec && !refused && !parser.is_done()) {
    std::optional<BodyStreaming> streaming =
        env.handler.streams_body(parser.get().method_string(), parser.get().target(),
                                 is_multipart_form(parser.get().base()));
    if (streaming && streaming->limit == 0) streaming->limit = limits.body_bytes;
    if (streaming) body_limit = streaming->limit;
    const auto declared = parser.content_length();
    if (declared && *declared > body_limit) {
      ec = http::error::body_limit;
    } else if (streaming) {
      const bool expects_continue = parser.get()[http::field::expect] == "100-continue";
      streamed_parser =
          std::make_unique<http::request_parser<http::buffer_body>>(std::move(parser));
      streamed_parser->body_limit(streaming->limit);
      streamed = std::make_unique<StreamedBody<Stream>>(stream, buffer, *streamed_parser, limits,
                                                        *streaming, expects_continue);
    } else {
      parser.body_limit(limits.body_bytes);
    }
  }
  if (!ec && !refused && !streamed && !parser.is_done()) {
    if (parser.get()[http::field::expect] == "100-continue") {
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      tcp.expires_after(limits.write_timeout);
      auto [wec, w] = co_await http::async_write(stream, go_on, as_tuple(use_awaitable));
      if (wec) co_return Turn::end;
    }
    tcp.expires_after(limits.body_timeout);
    if constexpr (NonBlockingStream<Stream>) {
      auto now = stream.nonblocking();
      auto step = [&](boost::system::error_code& e) { http::read(now, buffer, parser, e); };
      step(ec);
      if (ec == boost::asio::error::would_block) ec = co_await retry_when_ready(stream, step);
    } else {
      std::tie(ec, std::ignore) =
          co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
    }
  }

  Response response = blank_response();  // each path below sets it
  bool keep_alive = false;
  bool head = false;
  bool http10 = false;
  // Views into the parser's head, which lives until the end of this turn (the access log).
  std::string_view method = "-";
  std::string_view target = "-";
  std::array<char, 64> id_text;  // the request id, kept here rather than in a string
  std::string_view request_id;
  bool unread = false;
  if (ec || refused) {
    // Limits and malformed requests get an answer, then the connection closes: what follows
    // on it can no longer be framed. Timeouts and resets just close.
    new_request_id(std::span<char, 32>(id_text.data(), 32));
    request_id = std::string_view(id_text.data(), 32);
    if (refused) {
      response = error_response(refused->status,
                                refused->status == 501 ? "not_implemented" : "bad_request",
                                refused->message, request_id);
    } else if (ec == http::error::header_limit) {
      response =
          error_response(431, "header_too_large", "request header fields too large", request_id);
    } else if (ec == http::error::body_limit) {
      response =
          error_response(413, "payload_too_large",
                         "the body exceeds " + std::to_string(body_limit) + " bytes", request_id);
    } else if (ec == http::error::buffer_overflow) {
      response = error_response(400, "bad_request", "chunk extensions or trailer section too long",
                                request_id);
    } else if (ec.category() == make_error_code(http::error::header_limit).category()) {
      if (ec == http::error::end_of_stream || ec == http::error::partial_message)
        co_return Turn::end;
      response = error_response(400, "bad_request", "malformed HTTP request", request_id);
    } else {
      co_return Turn::end;
    }
  } else {
    const http::request_header<>& req =
        streamed ? streamed_parser->get().base() : parser.get().base();
    keep_alive =
        (streamed ? streamed_parser->keep_alive() : parser.keep_alive()) && !env.tracker.stopping();
    head = req.method() == http::verb::head;
    http10 = req.version() < 11;
    method = req.method_string();
    target = req.target();
    IncomingRequest in;
    in.method = std::string(method);
    in.target = std::string(target);
    in.headers = std::move(fields);
    if (streamed)
      in.body_source = streamed.get();
    else
      in.body = std::move(parser.get().body());
    if (state.via_proxy) {
      // The balancer appends the address that connected to it: the last entry of the last
      // X-Forwarded-For line, and only that (what comes before came from the client). Without
      // one, the balancer itself is the client.
      const std::string* chain = nullptr;
      for (const auto& [name, value] : in.headers)
        if (name == "x-forwarded-for") chain = &value;
      if (chain && !(forwarded = forwarded_client(*chain)).empty()) remote = forwarded;
    }
    in.remote = std::string(remote);
    const std::string* given = in.header("x-request-id");
    if (given && is_valid_request_id(*given)) {
      std::copy(given->begin(), given->end(), id_text.begin());
      request_id = std::string_view(id_text.data(), given->size());
    } else {
      new_request_id(std::span<char, 32>(id_text.data(), 32));
      request_id = std::string_view(id_text.data(), 32);
    }
    in.request_id = std::string(request_id);
    tcp.expires_never();  // the handler has its own deadline
    // Answered at once when nothing on the way waits (RequestHandler::start), else awaited.
    Handled handled = respond(std::move(in));
    if (handled.rest) {
      Response awaited = co_await std::move(*handled.rest);
      response = std::move(awaited);
    } else {
      response = std::move(*handled.answer);
    }
    if (env.tracker.stopping()) keep_alive = false;
    // A body the answer did not read (a refusal before the upload) is still on the way: the
    // connection closes after the answer, lingering.
    if (streamed && !streamed_parser->is_done()) {
      keep_alive = false;
      unread = true;
    }
  }

  const int status = response.status;
  // No content follows a 204 or a 304; a HEAD gets the head a GET would have had, Content-Length
  // included, and no body (RFC 9110 §9.3.2).
  if (status == 204 || status == 304) response.body.clear();
  std::size_t bytes = 0;
  boost::system::error_code wec;
  bool stream_cut_short = false;
  bool streamed_until_close = false;
  if (response.stream) {
    StreamedAnswer sent = co_await write_streamed(stream, response, keep_alive, http10, head,
                                                  head_text, request_id, https, limits);
    wec = sent.error;
    bytes = sent.bytes;
    stream_cut_short = sent.cut_short;
    if (sent.closes) keep_alive = false;
    streamed_until_close = sent.closes;
  } else {
    write_head(head_text, response, response.body.size(), keep_alive, request_id, https);
    bytes = head ? 0 : response.body.size();
    const std::array<boost::asio::const_buffer, 2> parts{
        boost::asio::buffer(head_text), boost::asio::buffer(response.body.data(), bytes)};
    tcp.expires_after(limits.write_timeout);
    if constexpr (NonBlockingStream<Stream>) {
      // Written now when the socket takes it (nearly always): no trip through the scheduler.
      auto now = stream.nonblocking();
      beast::buffers_suffix<std::array<boost::asio::const_buffer, 2>> rest(parts);
      auto step = [&](boost::system::error_code& e) {
        while (beast::buffer_bytes(rest) > 0) {
          const std::size_t n = now.write_some(rest, e);
          if (e) return;
          rest.consume(n);
        }
      };
      step(wec);
      if (wec == boost::asio::error::would_block) wec = co_await retry_when_ready(stream, step);
    } else {
      std::tie(wec, std::ignore) =
          co_await boost::asio::async_write(stream, parts, as_tuple(use_awaitable));
    }
  }
  if (stream_cut_short) keep_alive = false;

  if (env.access_log) {
    // Into this thread's buffer: no lock, no allocation (log/access_log.hpp).
    access_log::Record line;
    line.time = std::chrono::system_clock::now();
    line.request_id = request_id;
    line.remote = remote;
    line.method = method;
    line.target = target;
    line.status = status;
    line.bytes = bytes;
    line.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
    line.tls = https;
    access_log::record(line);
  }
  if (stream_cut_short && streamed_until_close) co_return Turn::aborted;
  if (wec) co_return Turn::end;
  if (ec || refused || unread) co_return Turn::refused;
  co_return keep_alive ? Turn::next : Turn::end;
}

// `park_after` (TLS only; zero: never): a connection that waits that long for its next request
// returns LoopEnd::parked, still marked idle, with the rest of its idle timeout to run.
template <class Stream, class Respond>
boost::asio::awaitable<LoopEnd> serve_http(
    Stream& stream, SessionState& state, SessionEnv& env, bool https, Respond respond,
    std::chrono::steady_clock::duration park_after = std::chrono::steady_clock::duration::zero()) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  auto& tcp = beast::get_lowest_layer(stream);
  const LimitsConfig& limits = env.server.limits;
  beast::flat_buffer buffer(limits.header_bytes + kReadSlack);
  std::string head_text;     // the head of each answer (write_head), kept for the next one
  std::uint64_t served = 0;  // requests served on this connection by this coroutine
  unsigned in_a_row = 0;     // of which served since the coroutine last let others run

  for (;;) {
    if constexpr (NonBlockingStream<Stream>) {
      // Other connections first. A client that sends its next request at once would otherwise
      // be served again and again while the others' requests wait, and a pipelining client
      // as long as it keeps the socket full: after an answer with nothing read yet, and after
      // kServedInARow answers whatever is read, Asio queues this connection behind what is
      // ready (by then the next request has usually come).
      const bool nothing_read = buffer.size() == 0 && !stream.has_buffered();
      if (served > 0 && (nothing_read || in_a_row >= kServedInARow)) {
        // Between requests already: shutdown and reclaiming may close it during the yield.
        if (nothing_read) state.idle->store(true, std::memory_order_relaxed);
        co_await boost::asio::post(stream.get_executor(), use_awaitable);
        in_a_row = 0;
      }
    }
    // Between requests: wait for a first byte, no longer than the idle timeout. Shutdown, and
    // a server near its connection limit, close connections that wait here.
    if (buffer.size() == 0) {
      if (env.tracker.stopping()) break;
      if constexpr (NonBlockingStream<Stream>) {
        // TLS: take what has come; wait on the socket only when nothing has. A connection
        // waiting past `park_after` is parked (its buffers then go with this coroutine). The
        // idle timeout runs from the end of the last request, across parking: bytes that
        // never make a request (a record sent a byte at a time) do not restart it.
        const bool may_park = park_after.count() > 0 && park_after < limits.idle_timeout;
        auto now = stream.nonblocking();
        bool waiting = false;
        boost::system::error_code ec;
        for (;;) {
          const std::size_t n = now.read_some(buffer.prepare(beast::read_size(buffer, 16384)), ec);
          if (!ec) {
            buffer.commit(n);
            state.idle_since = {};
            break;
          }
          if (ec != boost::asio::error::would_block) break;
          if (!waiting) {
            waiting = true;
            state.idle->store(true, std::memory_order_relaxed);
            const auto t = std::chrono::steady_clock::now();
            if (state.idle_since == std::chrono::steady_clock::time_point{}) state.idle_since = t;
            const auto left = limits.idle_timeout - (t - state.idle_since);
            if (left <= std::chrono::steady_clock::duration::zero()) {
              ec = beast::error::timeout;
              break;
            }
            tcp.expires_after(may_park && park_after < left ? park_after : left);
          }
          auto [ready] = co_await stream.async_ready(as_tuple(use_awaitable));
          in_a_row = 0;
          ec = ready ? stream.ready_error(ready) : ready;
          if (ec == beast::error::timeout && may_park && !env.tracker.stopping() &&
              std::chrono::steady_clock::now() - state.idle_since < limits.idle_timeout)
            co_return LoopEnd::parked;
          if (ec) break;
        }
        state.idle->store(false, std::memory_order_relaxed);
        if (ec) break;
      } else {
        state.idle->store(true, std::memory_order_relaxed);
        tcp.expires_after(limits.idle_timeout);
        auto [ec, n] =
            co_await stream.async_read_some(buffer.prepare(1024), as_tuple(use_awaitable));
        state.idle->store(false, std::memory_order_relaxed);
        if (ec) break;
        buffer.commit(n);
      }
    } else {
      state.idle->store(false, std::memory_order_relaxed);
    }
    ++served;
    ++in_a_row;
    const Turn turn = co_await serve_request(stream, buffer, head_text, state, env, https, respond);
    if (turn == Turn::refused) co_return LoopEnd::refused;
    if (turn == Turn::aborted) co_return LoopEnd::aborted;
    if (turn == Turn::end) break;
  }
  co_return LoopEnd::quiet;
}

/// After an error answer, reads and drops what the client still sends, for a short while and
/// a bounded amount, so that closing with unread bytes does not reset the connection before
/// the client has read the answer (a "lingering close", as nginx does).
inline boost::asio::awaitable<void> linger(boost::asio::ip::tcp::socket& socket) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  boost::asio::steady_timer deadline(socket.get_executor(), std::chrono::seconds(2));
  deadline.async_wait([&socket](boost::system::error_code ec) {
    boost::system::error_code ignored;
    if (!ec) socket.cancel(ignored);
  });
  std::array<char, 4096> sink;
  std::size_t dropped = 0;
  while (dropped < 256 * 1024) {
    auto [ec, n] =
        co_await socket.async_read_some(boost::asio::buffer(sink), as_tuple(use_awaitable));
    if (ec) break;
    dropped += n;
  }
  deadline.cancel();
}

}  // namespace passerelle
