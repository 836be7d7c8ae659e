// Checks of a request head that Beast's parser lets through but RFC 9112 and this gateway
// refuse: framing a front proxy could read differently (smuggling), and repeated headers the
// core and a plugin could read differently.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace passerelle {

/// One header field as read off the wire; the name in any case.
using HeaderField = std::pair<std::string_view, std::string_view>;

/// A request head refused: answer `status` (400, or 501 for a transfer coding we do not
/// implement) and close the connection.
struct FramingError {
  int status = 400;
  std::string message;
};

/// Why a request head must be refused, or nothing. `version` is 10 or 11.
std::optional<FramingError> framing_error(const std::vector<HeaderField>& fields, unsigned version);

}  // namespace passerelle
