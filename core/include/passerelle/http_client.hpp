// Outbound HTTP(S) requests from a plugin, certificates verified.
#pragma once

#include "passerelle/export.hpp"
#include "passerelle/task.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace passerelle {

/// An outbound HTTP(S) request.
struct OutboundRequest {
  std::string method = "GET";                                ///< HTTP method.
  std::string url;                                           ///< Absolute http:// or https:// URL.
  std::vector<std::pair<std::string, std::string>> headers;  ///< Extra request headers.
  std::string body;                                          ///< Request body.
  std::chrono::milliseconds timeout{10000};                  ///< Deadline for the whole exchange.
  std::size_t max_body_bytes = 4 * 1024 * 1024;              ///< Larger responses are refused.
};

/// The response to an OutboundRequest.
struct OutboundResponse {
  int status = 0;                                            ///< HTTP status code.
  std::vector<std::pair<std::string, std::string>> headers;  ///< Lower-case names.
  std::string body;                                          ///< Body bytes.
};

/// Outbound HTTP(S) client: certificates verified against the system store (or the configured
/// CA file). Failure throws HttpError 502 ("upstream_unavailable"), timeout 504.
class PASSERELLE_SDK_API HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// Performs one request; one connection per call.
  virtual Task<OutboundResponse> fetch(OutboundRequest request) = 0;
};

}  // namespace passerelle
