// Shared response helpers, so that every path (server, router, plugins) answers alike.
#include "http/responses.hpp"

#include "util/text.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

namespace passerelle {

Response error_response(int status, const std::string& code, const std::string& message,
                        std::string_view request_id) {
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  error["request_id"] = request_id;
  return Response::json(boost::json::object{{"error", std::move(error)}}, status);
}

Response error_response(const HttpError& error, std::string_view request_id) {
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

bool has_header(const Response& r, std::string_view name) {
  return std::any_of(r.headers.begin(), r.headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

std::span<const CommonHeader> common_headers() {
  static constexpr CommonHeader kHeaders[] = {
      {"Strict-Transport-Security", "max-age=63072000; includeSubDomains", true},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"},
      {"Referrer-Policy", "strict-origin-when-cross-origin"},
      {"Cache-Control", "no-store"},
  };
  return kHeaders;
}

std::string_view http_date_now() {
  struct Cache {
    std::time_t second = -1;
    char text[32] = {};
    std::size_t size = 0;
  };
  thread_local Cache cache;
  const std::time_t now = std::time(nullptr);
  if (now != cache.second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    // By hand rather than strftime: day and month names must not follow the locale.
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const int n = std::snprintf(
        cache.text, sizeof cache.text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
        tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cache.size = n > 0 ? static_cast<std::size_t>(n) : 0;
    cache.second = now;
  }
  return {cache.text, cache.size};
}

bool is_valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

void new_request_id(std::span<char, 32> out) {
  // Unique, not secret (a client may send its own): a counter from a random start, mixed
  // (splitmix64, a bijection), which never repeats within a thread.
  thread_local std::uint64_t state =
      (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  const auto rng = [] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  };
  // Two hex digits per byte, looked up at once.
  static constexpr auto kPairs = [] {
    constexpr std::string_view kHex = "0123456789abcdef";
    std::array<char, 512> pairs{};
    for (int b = 0; b < 256; ++b) {
      pairs[2 * b] = kHex[b >> 4];
      pairs[2 * b + 1] = kHex[b & 0xf];
    }
    return pairs;
  }();
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = rng();
    for (int i = 0; i < 8; ++i, v >>= 8)
      std::memcpy(&out[half * 16 + 2 * i], &kPairs[2 * (v & 0xff)], 2);
  }
}

std::string new_request_id() {
  std::string id(32, '0');
  new_request_id(std::span<char, 32>(id.data(), 32));
  return id;
}

}  // namespace passerelle
