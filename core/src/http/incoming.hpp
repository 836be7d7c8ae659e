// A request as read off the wire, before routing; and the interface the server calls.
#pragma once

#include "passerelle/http.hpp"
#include "passerelle/task.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace passerelle {

/// A request body still on the wire, read as the application goes (an upload route's, a
/// streaming route's): the session's stream, under the session's limits and timeouts. Read()
/// throws HttpError: 413 past the limit, 408 when the client is too slow, 400 when it breaks.
using BodySource = BodyStream;

/// The limits of a body read as it comes: its size, and the time it may take in all (each read
/// also has the session's body_timeout).
struct BodyStreaming {
  std::uint64_t limit = 0;
  std::chrono::milliseconds timeout{0};
};

struct IncomingRequest {
  std::string method;
  std::string target;  // origin-form: path and query, still encoded
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
  /// Set instead of `body` when the route streams its body (RequestHandler::body_limit); owned
  /// by the session, valid until the answer is awaited.
  BodySource* body_source = nullptr;
  std::string remote;      // peer address, for logs and rate limits
  std::string request_id;  // set by the session before dispatch

  /// First value of a header (lower-case name), or empty.
  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return &v;
    return nullptr;
  }
};

/// What the application made of a request at once: its answer, when nothing on the way had to
/// wait, or else the rest of the work, to await. A route answered from memory thus costs no
/// coroutine: on /healthz, the four it had came to about a tenth of the server's CPU.
struct Handled {
  std::optional<Response> answer{};
  std::optional<Task<Response>> rest{};
};

/// What the server asks of the application for each request. Never throws.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  /// Does what it can now, on the calling I/O thread, whose executor is given.
  virtual Handled start(IncomingRequest request, const boost::asio::any_io_executor& executor) = 0;

  /// How a route that reads its body as it comes (an upload, a Route::streams_body route)
  /// wants it read, or nothing: the session then reads the body whole first, as for any route.
  /// `multipart`: the body is multipart/form-data (an upload route takes only that). A limit of
  /// 0 is the server's limits.body_bytes.
  virtual std::optional<BodyStreaming> streams_body(std::string_view method,
                                                    std::string_view target, bool multipart) {
    return std::nullopt;
  }

  /// start(), then the rest awaited.
  Task<Response> handle(IncomingRequest request) {
    const auto executor = co_await boost::asio::this_coro::executor;
    Handled handled = start(std::move(request), executor);
    if (handled.rest) co_return co_await std::move(*handled.rest);
    co_return std::move(*handled.answer);
  }
};

}  // namespace passerelle
