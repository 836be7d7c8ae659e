// The application behind the server: core endpoints, then plugin routes with authorization,
// body checks and a deadline; every failure becomes the JSON error shape.
#pragma once

#include "http/incoming.hpp"
#include "metrics/registry.hpp"
#include "plugins/plugin_host.hpp"

#include <functional>
#include <optional>

namespace passerelle {

/// Finds who is calling (session cookie, bearer token); nothing means anonymous.
using Authenticate = std::function<Task<std::optional<Identity>>(const IncomingRequest&)>;

class Dispatcher final : public RequestHandler {
 public:
  Dispatcher(PluginHost& plugins, MetricsRegistry& metrics, Authenticate authenticate);

  Task<Response> handle(IncomingRequest request) override;

 private:
  Task<Response> route(IncomingRequest& request);
  Task<Response> call_plugin(const RouteTable::Target& target, Request request);

  PluginHost& plugins_;
  MetricsRegistry& metrics_;
  Authenticate authenticate_;
};

}  // namespace passerelle
