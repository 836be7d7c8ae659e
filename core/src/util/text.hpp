// Small text helpers for protocol parsing: ASCII case-insensitive comparison, URI characters and
// trimming of spaces and tabs (HTTP's optional whitespace).
#pragma once

#include <algorithm>
#include <string_view>

namespace passerelle {

/// ASCII only, with no locale call per character (header names are compared on every answer).
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

/// An unreserved character of a URI (RFC 3986 §2.3): a letter, a digit, '-', '.', '_' or '~'.
constexpr bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

/// `s` without the spaces and tabs around it.
inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace passerelle
