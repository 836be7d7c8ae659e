// Shared response helpers, so that every path (server, router, plugins) answers alike.
#include "http/responses.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>
#include <random>

namespace passerelle {

Response error_response(int status, const std::string& code, const std::string& message,
                        const std::string& request_id) {
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  error["request_id"] = request_id;
  return Response::json(boost::json::object{{"error", std::move(error)}}, status);
}

Response error_response(const HttpError& error, const std::string& request_id) {
  Response r = error_response(error.status(), error.code(), error.what(), request_id);
  if (const auto* with = dynamic_cast<const HttpErrorWithHeaders*>(&error))
    r.headers.insert(r.headers.end(), with->headers().begin(), with->headers().end());
  return r;
}

Response redirect_response(const std::string& location) {
  Response r;
  r.status = 303;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Location", location);
  return r;
}

namespace {
bool has_header(const Response& r, std::string_view name) {
  return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) {
    return h.first.size() == name.size() &&
           std::equal(h.first.begin(), h.first.end(), name.begin(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  });
}
}  // namespace

void add_common_headers(Response& r, const std::string& request_id, bool https) {
  auto set_default = [&](const char* name, const char* value) {
    if (!has_header(r, name)) r.headers.emplace_back(name, value);
  };
  r.headers.emplace_back("X-Request-Id", request_id);
  if (https) set_default("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
  set_default("X-Content-Type-Options", "nosniff");
  set_default("X-Frame-Options", "DENY");
  set_default("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
  set_default("Referrer-Policy", "strict-origin-when-cross-origin");
  set_default("Cache-Control", "no-store");
}

bool is_valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) id[half * 16 + i] = kHex[v & 0xf];
  }
  return id;
}

}  // namespace passerelle
