// The application behind the server: the gateway's own routes and the plugins' routes in one
// router, and in one place for all of them authentication, roles, CSRF, media types, the
// deadline, metrics and the JSON error shape.
#pragma once

#include "http/route_spec.hpp"
#include "metrics/registry.hpp"
#include "metrics/route_stats.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passerelle {

class Entered;
struct InFlight;
template <class T>
struct CallOutcome;

class PluginHost;

/// A copy of a request id, in place up to 64 characters (the session's are 32): kept for the
/// answer and the log apart from the request, which its handler takes whole.
class IdCopy {
 public:
  explicit IdCopy(std::string_view id) {
    if (id.size() <= inline_.size()) {
      std::copy(id.begin(), id.end(), inline_.begin());
      view_ = std::string_view(inline_.data(), id.size());
    } else {
      heap_ = id;
      view_ = heap_;
    }
  }
  IdCopy(IdCopy&& other) : IdCopy(other.view_) {}  // the view points into the new copy
  IdCopy(const IdCopy&) = delete;
  IdCopy& operator=(const IdCopy&) = delete;
  std::string_view view() const { return view_; }

 private:
  std::array<char, 64> inline_;
  std::string heap_;
  std::string_view view_;
};

/// Finds who is calling (session cookie, bearer token); nothing means anonymous.
using Authenticate = std::function<Task<std::optional<AuthContext>>(const IncomingRequest&)>;

/// The same from memory, on the I/O thread: the caller (or anonymous) when known without the
/// store; nothing when Authenticate must be asked.
using AuthenticateNow = std::function<std::optional<std::optional<AuthContext>>(
    const IncomingRequest&, const boost::asio::any_io_executor&)>;

class Dispatcher final : public RequestHandler {
 public:
  /// Throws std::logic_error when a core route is malformed or routed twice. `default_deadline`
  /// applies to core routes that declare none.
  Dispatcher(PluginHost& plugins, MetricsRegistry& metrics, Authenticate authenticate,
             std::vector<CoreRoute> core_routes = {},
             std::chrono::milliseconds default_deadline = std::chrono::seconds(30));
  ~Dispatcher() override;

  Handled start(IncomingRequest request, const boost::asio::any_io_executor& executor) override;
  std::optional<BodyStreaming> streams_body(std::string_view method, std::string_view target,
                                            bool multipart) override;

  /// Tried before Authenticate on every authenticated route; set before serving.
  void set_authenticate_now(AuthenticateNow now) { authenticate_now_ = std::move(now); }

  /// Awaited after a state-changing request (not GET or HEAD) is handled and before it is
  /// answered, whatever its outcome: the news of its changes leaves first (Store::
  /// notifications_sent), so the client's next request, wherever it lands, sees them. Set
  /// before serving; unset, nothing is awaited.
  void set_settle(std::function<Task<void>()> settle) { settle_ = std::move(settle); }

 private:
  struct Routes;
  struct Target;
  struct Pending;
  /// What finish() does after the handler, for a request answered without it
  /// (answers_directly): the route's table and count held to the end, its counters, when it
  /// started, its id.
  struct Closing {
    std::shared_ptr<const Routes> routes;
    RouteEntered in_route;
    RouteStats* stats = nullptr;
    std::chrono::steady_clock::time_point started;
    IdCopy id;
  };
  std::shared_ptr<const Routes> current_routes();
  std::optional<Response> route(IncomingRequest&& request,
                                const boost::asio::any_io_executor& executor, Pending& pending);
  Task<Response> finish(Pending pending);
  bool answers_directly(const Pending& pending) const;
  bool settles(const IncomingRequest& in) const;
  Task<Response> call_directly(Pending& pending);
  /// `take_id`: the request id moved into it (its caller keeps a copy).
  Request plugin_request(Pending& pending, bool take_id);
  Task<std::optional<Response>> receive_files(Pending& pending);
  Task<Response> call(Pending& pending);
  Task<std::optional<AuthContext>> authenticate_within(const Target& target,
                                                       const IncomingRequest& in);
  Task<Response> call_core(const Target& target, CoreRequest request);
  /// The route's handler, or (`before_upload`) its Route::before_upload. `entered`: the
  /// request's count in the plugin, which the call takes over (else it counts anew).
  /// `closing`: a request answered directly, whose id it holds.
  Task<Response> call_plugin(const Target& target, Request request, std::string_view request_id,
                             bool before_upload = false, Entered* entered = nullptr,
                             std::optional<Closing> closing = std::nullopt);
  /// A handler awaited as it is (Route::immediate, Route::bounded); `held` first, so that it
  /// goes last: the task, an exception and the answer are the plugin's code.
  Task<Response> await_plugin(InFlight held, const Target& target, Task<Response> handler,
                              std::exception_ptr failed, std::string_view request_id,
                              std::optional<Closing> closing);
  /// A handler raced against its route's deadline.
  Task<Response> call_plugin_within(const Target& target, Request request,
                                    std::string_view request_id, bool before_upload,
                                    Entered counted);
  Response plugin_answer(const Target& target, CallOutcome<Response>& outcome,
                         std::string_view request_id);

  PluginHost& plugins_;
  MetricsRegistry& metrics_;
  Authenticate authenticate_;
  AuthenticateNow authenticate_now_;
  std::function<Task<void>()> settle_;
  std::vector<CoreRoute> core_routes_;
  std::chrono::milliseconds default_deadline_;
  RouteStats& unmatched_;  // requests no route took (404, 405, malformed)
  // The core routes with those of the plugin table it was built from; rebuilt when the plugin
  // host publishes a new table.
  std::atomic<std::shared_ptr<const Routes>> routes_;
};

}  // namespace passerelle
