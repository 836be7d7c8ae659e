// Decoding of application/x-www-form-urlencoded bodies and of the Cookie header.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace passerelle {

/// Fields of a form body ('+' is a space); nothing when malformed.
std::optional<std::map<std::string, std::string>> parse_form(std::string_view body);

/// The value of cookie `name` in a Cookie header, or empty.
std::string cookie_value(std::string_view header, std::string_view name);

/// Escapes &, <, >, " and ' for HTML text and attributes.
std::string html_escape(std::string_view text);

/// Percent-encodes a query parameter value.
std::string url_encode(std::string_view text);

}  // namespace passerelle
