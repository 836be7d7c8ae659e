// Error bodies, reason phrases and the headers every response carries.
#pragma once

#include "passerelle/http.hpp"

#include <string>
#include <utility>
#include <vector>

namespace passerelle {

/// {"error":{"code":code,"message":message,"request_id":id}} with that status.
Response error_response(int status, const std::string& code, const std::string& message,
                        const std::string& request_id);

/// An HttpError whose answer carries headers too, such as Retry-After on a 429 or a 503.
class HttpErrorWithHeaders : public HttpError {
 public:
  HttpErrorWithHeaders(int status, std::string code, const std::string& message,
                       std::vector<std::pair<std::string, std::string>> headers)
      : HttpError(status, std::move(code), message), headers_(std::move(headers)) {}
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

 private:
  std::vector<std::pair<std::string, std::string>> headers_;
};

/// The answer to an HttpError thrown by a handler (with its headers, if it has some).
Response error_response(const HttpError& error, const std::string& request_id);

/// 303 See Other to `location` (a path of this site or a provider's URL, never user input).
Response redirect_response(const std::string& location);

/// Adds X-Request-Id and the security headers (HSTS, nosniff, frame-ancestors, ...) unless the
/// handler already set them.
void add_common_headers(Response& response, const std::string& request_id, bool https);

/// A request id from the client is kept only when it is 1-64 characters of [A-Za-z0-9._-].
bool is_valid_request_id(std::string_view id);

/// 128 random bits as 32 hex characters (not a secret: just unique).
std::string new_request_id();

}  // namespace passerelle
