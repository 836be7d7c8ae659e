// A request as read off the wire, before routing; and the interface the server calls.
#pragma once

#include "passerelle/http.hpp"
#include "passerelle/task.hpp"

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

/// What the server asks of the application for each request. Never throws.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual Task<Response> handle(IncomingRequest request) = 0;
};

}  // namespace passerelle
