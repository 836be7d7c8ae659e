// What every plugin does with the store's values and times (a column's text or number, the
// clock in epoch seconds, a time as the API writes it), with a JSON body and with new ids.
#pragma once

#include "passerelle/host.hpp"

#include <sys/random.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <stdexcept>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <variant>

namespace passerelle::plugins {

/// A column's text; "" when it holds something else (NULL, a number).
inline const std::string& text_of(const SqlValue& v) {
  static const std::string empty;
  const auto* s = std::get_if<std::string>(&v);
  return s ? *s : empty;
}

/// A column's integer (a real is truncated); 0 when it holds something else.
inline std::int64_t int_of(const SqlValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  return 0;
}

/// Now, in seconds since 1970 (UTC).
inline std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// "2025-06-02T06:30:00Z".
inline std::string iso_utc(std::int64_t epoch_seconds) {
  const auto t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

/// 128 random bits from the system, in hex: an id nobody guesses.
inline std::string random_id() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) throw std::runtime_error("no random bytes from the system");
    got += static_cast<std::size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

/// The request's body as a JSON object; HttpError 400 otherwise.
inline boost::json::object body_object(const Request& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) throw HttpError(400, "invalid_json", "the body is not a JSON object");
  return std::move(v.as_object());
}

}  // namespace passerelle::plugins
