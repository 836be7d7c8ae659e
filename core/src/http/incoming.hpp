// A request as read off the wire, before routing; and the interface the server calls.
#pragma once

#include "passerelle/http.hpp"
#include "passerelle/task.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/this_coro.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace passerelle {

struct IncomingRequest {
  std::string method;
  std::string target;  // origin-form: path and query, still encoded
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
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

  /// start(), then the rest awaited.
  Task<Response> handle(IncomingRequest request) {
    const auto executor = co_await boost::asio::this_coro::executor;
    Handled handled = start(std::move(request), executor);
    if (handled.rest) co_return co_await std::move(*handled.rest);
    co_return std::move(*handled.answer);
  }
};

}  // namespace passerelle
