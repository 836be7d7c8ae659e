// The HTTP/1.1 request loop shared by the TLS and the redirect sessions: read with limits and
// deadlines, answer, write, repeat while keep-alive holds. Include in one .cpp per stream type.
#pragma once

#include "http/responses.hpp"
#include "log/log.hpp"
#include "server/sessions.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace passerelle {

namespace beast = boost::beast;
namespace http = boost::beast::http;

/// State a shutdown closer may look at; touched only on the session's strand.
struct SessionState {
  bool idle = false;
  boost::asio::ip::tcp::socket* socket = nullptr;
};

/// Registers the session with the tracker for its lifetime; the closer cancels an idle read.
class TrackedSession {
 public:
  TrackedSession(SessionEnv& env, boost::asio::any_io_executor executor,
                 boost::asio::ip::tcp::socket& socket)
      : env_(env), state_(std::make_shared<SessionState>()) {
    state_->socket = &socket;
    id_ = env_.tracker.add([state = state_, executor](bool force) {
      boost::asio::post(executor, [state, force] {
        // shutdown() lasts: a wait that starts after this post ends at once too.
        if (!state->socket || (!force && !state->idle)) return;
        boost::system::error_code ignored;
        state->socket->shutdown(force ? boost::asio::ip::tcp::socket::shutdown_both
                                      : boost::asio::ip::tcp::socket::shutdown_receive,
                                ignored);
        state->socket->cancel(ignored);
      });
    });
  }
  ~TrackedSession() {
    state_->socket = nullptr;
    env_.tracker.remove(id_);
  }
  SessionState& state() { return *state_; }

 private:
  SessionEnv& env_;
  std::shared_ptr<SessionState> state_;
  std::uint64_t id_ = 0;
};

inline std::string peer_address(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("unknown") : ep.address().to_string();
}

inline http::response<http::string_body> to_beast(Response&& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.insert(name, value);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

inline IncomingRequest to_incoming(http::request<http::string_body>&& req, const std::string& remote) {
  IncomingRequest in;
  in.method = std::string(req.method_string());
  in.target = std::string(req.target());
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    in.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  in.body = std::move(req.body());
  in.remote = remote;
  const std::string* given = in.header("x-request-id");
  in.request_id = given && is_valid_request_id(*given) ? *given : new_request_id();
  return in;
}

template <class Stream, class Respond>
boost::asio::awaitable<void> serve_http(Stream& stream, SessionState& state, SessionEnv& env,
                                        bool https, const std::string& remote, Respond respond) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  auto& tcp = beast::get_lowest_layer(stream);
  const LimitsConfig& limits = env.server.limits;
  beast::flat_buffer buffer;

  for (;;) {
    // Between requests: wait for a first byte, no longer than the idle timeout. Shutdown
    // closes connections that wait here.
    if (buffer.size() == 0) {
      if (env.tracker.stopping()) break;
      state.idle = true;
      tcp.expires_after(limits.idle_timeout);
      if constexpr (requires { stream.async_wait_readable(as_tuple(use_awaitable)); }) {
        // TLS: wait without a buffer; idle connections hold no memory of their own.
        buffer.shrink_to_fit();
        auto [ec] = co_await stream.async_wait_readable(as_tuple(use_awaitable));
        state.idle = false;
        if (ec) break;
      } else {
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(1024), as_tuple(use_awaitable));
        state.idle = false;
        if (ec) break;
        buffer.commit(n);
      }
    }
    const auto started = std::chrono::steady_clock::now();
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
    parser.body_limit(limits.body_bytes);

    // The whole head must arrive within header_timeout: a client trickling bytes is cut off.
    tcp.expires_after(limits.header_timeout);
    auto [ec, _] = co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
    if (!ec && !parser.is_done()) {
      if (parser.get()[http::field::expect] == "100-continue") {
        http::response<http::empty_body> go_on{http::status::continue_, 11};
        tcp.expires_after(limits.write_timeout);
        auto [wec, w] = co_await http::async_write(stream, go_on, as_tuple(use_awaitable));
        if (wec) break;
      }
      tcp.expires_after(limits.body_timeout);
      std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
    }

    Response response;
    bool keep_alive = false;
    std::string method = "-";
    std::string path = "-";
    std::string request_id;
    if (ec) {
      // Limits and malformed requests get an answer; timeouts and resets just close.
      if (ec == http::error::header_limit) {
        request_id = new_request_id();
        response = error_response(431, "header_too_large", "request header fields too large", request_id);
      } else if (ec == http::error::body_limit) {
        request_id = new_request_id();
        response = error_response(413, "payload_too_large",
                                  "the body exceeds " + std::to_string(limits.body_bytes) + " bytes",
                                  request_id);
      } else if (ec.category() == make_error_code(http::error::header_limit).category()) {
        if (ec == http::error::end_of_stream || ec == http::error::partial_message) break;
        request_id = new_request_id();
        response = error_response(400, "bad_request", "malformed HTTP request", request_id);
      } else {
        break;
      }
    } else {
      auto req = parser.release();
      keep_alive = req.keep_alive() && !env.tracker.stopping();
      method = std::string(req.method_string());
      path = std::string(req.target().substr(0, req.target().find('?')));
      IncomingRequest in = to_incoming(std::move(req), remote);
      request_id = in.request_id;
      tcp.expires_never();  // the handler has its own deadline
      response = co_await respond(std::move(in));
      if (env.tracker.stopping()) keep_alive = false;
    }

    add_common_headers(response, request_id, https);
    const int status = response.status;
    auto res = to_beast(std::move(response), 11, keep_alive);
    const std::size_t bytes = res.body().size();
    tcp.expires_after(limits.write_timeout);
    auto [wec, written] = co_await http::async_write(stream, res, as_tuple(use_awaitable));

    if (env.access_log) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
      log::write(log::Level::info, "access", "request",
                 {{"request_id", request_id}, {"remote", remote}, {"method", method},
                  {"path", path}, {"status", status}, {"bytes", bytes},
                  {"duration_us", static_cast<std::int64_t>(us)}, {"tls", https}});
    }
    if (wec || !keep_alive) break;
  }
}

}  // namespace passerelle
