// Decoding of application/x-www-form-urlencoded text (form bodies and query strings), of the
// Cookie and Content-Type headers, and escaping for HTML and URLs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace passerelle {

/// The one parser of application/x-www-form-urlencoded text: form bodies and query strings
/// (without the '?') alike, so that every handler reads `?a=1&next=/x` the same way. Split by
/// Boost.URL; keys and values percent-decoded, '+' is a space (HTML forms, WHATWG URL); a key
/// without '=' has the empty value; empty keys are skipped; a repeated key keeps its last value.
/// Nothing when malformed (a bad percent escape).
std::optional<std::map<std::string, std::string>> parse_form(std::string_view text);

/// The media type of a Content-Type value, lower case, without parameters or spaces:
/// "Application/JSON; charset=utf-8" gives "application/json".
std::string media_type(std::string_view content_type);

/// The value of cookie `name` in a Cookie header, or empty.
std::string cookie_value(std::string_view header, std::string_view name);

/// Escapes &, <, >, " and ' for HTML text and attributes.
std::string html_escape(std::string_view text);

/// Percent-encodes a query parameter value.
std::string url_encode(std::string_view text);

}  // namespace passerelle
