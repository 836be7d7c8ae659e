// Error bodies, reason phrases and the headers every response carries.
#pragma once

#include "passerelle/http.hpp"

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace passerelle {

/// {"error":{"code":code,"message":message,"request_id":id}} with that status.
Response error_response(int status, const std::string& code, const std::string& message,
                        std::string_view request_id);

/// A Response with no media type yet, for a caller that sets every field it uses: the
/// default "application/json" is one character past std::string's inline room, so it would
/// cost an allocation to be overwritten.
inline Response blank_response() {
  return Response{.content_type = {}, .body = {}, .headers = {}, .stream = {}};
}

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
Response error_response(const HttpError& error, std::string_view request_id);

/// 303 See Other to `location` (a path of this site or a provider's URL, never user input).
Response redirect_response(const std::string& location);

/// A header every response carries unless its handler set it (HSTS, nosniff, frame-ancestors,
/// ...): static text, so that the session copies it into the answer without building strings.
struct CommonHeader {
  std::string_view name;
  std::string_view value;
  bool https_only = false;
};
std::span<const CommonHeader> common_headers();

/// The Content-Security-Policy of a Response::sandboxed answer, in place of the common one.
inline constexpr std::string_view kSandboxPolicy =
    "sandbox; default-src 'none'; frame-ancestors 'none'";

/// Whether the handler set header `name` (compared in any case).
bool has_header(const Response& response, std::string_view name);

/// The current time as an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"), formatted once per
/// second and thread.
std::string_view http_date_now();

/// A request id from the client is kept only when it is 1-64 characters of [A-Za-z0-9._-].
bool is_valid_request_id(std::string_view id);

/// 128 bits as 32 hex characters, unique per process (not a secret: a client may send its own).
std::string new_request_id();
/// The same, written into `out`, for a caller that keeps it without allocating.
void new_request_id(std::span<char, 32> out);

}  // namespace passerelle
