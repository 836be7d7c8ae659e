// RFC 9112 §6.1 and §3.2 checks on a parsed request head; see framing.hpp.
#include "server/framing.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace passerelle {

namespace {

// Headers whose single value the core decides on and a plugin may read too: two copies would
// let each side pick a different one.
constexpr std::array<std::string_view, 8> kSingletons = {
    "host",   "content-type", "content-length", "authorization",
    "cookie", "origin",       "sec-fetch-site", "x-csrf-token"};

}  // namespace

std::optional<FramingError> framing_error(const std::vector<HeaderField>& fields,
                                          unsigned version) {
  std::array<int, kSingletons.size()> seen{};
  std::vector<std::string_view> codings;  // every Transfer-Encoding token, in order
  bool has_te = false;
  for (const auto& [name, value] : fields) {
    for (std::size_t i = 0; i < kSingletons.size(); ++i)
      if (iequals(name, kSingletons[i]) && ++seen[i] > 1)
        return FramingError{400, "repeated " + std::string(kSingletons[i]) + " header"};
    if (!iequals(name, "transfer-encoding")) continue;
    has_te = true;
    std::string_view rest = value;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view token = trim_blanks(rest.substr(0, comma));
      if (!token.empty()) codings.push_back(token);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (version == 11 && seen[0] == 0) return FramingError{400, "missing Host header"};
  if (!has_te) return std::nullopt;
  // HTTP/1.0 has no chunked coding: a Transfer-Encoding there is faulty framing (§6.1).
  if (version < 11) return FramingError{400, "Transfer-Encoding in an HTTP/1.0 request"};
  // The body length is known only when chunked is the final coding, applied once (§6.3).
  if (codings.empty() || !iequals(codings.back(), "chunked"))
    return FramingError{400, "Transfer-Encoding must end in chunked"};
  if (std::count_if(codings.begin(), codings.end(),
                    [](std::string_view c) { return iequals(c, "chunked"); }) > 1)
    return FramingError{400, "chunked applied more than once"};
  // We decode no other transfer coding: refuse (§6.1: 501) rather than hand a plugin
  // compressed bytes.
  if (codings.size() > 1)
    return FramingError{501,
                        "transfer coding " + std::string(codings.front()) + " is not supported"};
  return std::nullopt;
}

}  // namespace passerelle
