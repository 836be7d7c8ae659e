#include "store/pg_sql.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace passerelle::pg {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Index just past the literal, identifier or comment starting at `i` (which `sql[i]` opens),
// or npos when it is not closed.
std::size_t skip_quoted(std::string_view sql, std::size_t i, char quote) {
  for (std::size_t j = i + 1; j < sql.size(); ++j) {
    if (sql[j] != quote) continue;
    if (j + 1 < sql.size() && sql[j + 1] == quote) {  // '' or "" inside
      ++j;
      continue;
    }
    return j + 1;
  }
  return std::string_view::npos;
}

std::size_t skip_escape_string(std::string_view sql, std::size_t i) {  // E'…', \' escapes
  for (std::size_t j = i + 2; j < sql.size(); ++j) {
    if (sql[j] == '\\') {
      ++j;
      continue;
    }
    if (sql[j] != '\'') continue;
    if (j + 1 < sql.size() && sql[j + 1] == '\'') {
      ++j;
      continue;
    }
    return j + 1;
  }
  return std::string_view::npos;
}

std::size_t skip_block_comment(std::string_view sql, std::size_t i) {  // nested, as PostgreSQL
  int depth = 0;
  for (std::size_t j = i; j + 1 < sql.size(); ++j) {
    if (sql[j] == '/' && sql[j + 1] == '*') {
      ++depth;
      ++j;
    } else if (sql[j] == '*' && sql[j + 1] == '/') {
      ++j;
      if (--depth == 0) return j + 1;
    }
  }
  return std::string_view::npos;
}

// $tag$ … $tag$ (tag empty or an identifier not starting with a digit); npos when `i` opens
// none.
std::size_t skip_dollar_quoted(std::string_view sql, std::size_t i) {
  std::size_t j = i + 1;
  if (j < sql.size() && is_digit(sql[j])) return std::string_view::npos;
  while (j < sql.size() && is_ident(sql[j]) && sql[j] != '$') ++j;
  if (j >= sql.size() || sql[j] != '$') return std::string_view::npos;
  const std::string_view tag = sql.substr(i, j - i + 1);
  const std::size_t end = sql.find(tag, j + 1);
  if (end == std::string_view::npos) return std::string_view::npos;
  return end + tag.size();
}

[[noreturn]] void unclosed(std::string_view what) {
  throw std::invalid_argument("SQL: unterminated " + std::string(what));
}

}  // namespace

std::string translate_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    std::size_t end = i;
    if (c == '\'') {
      if ((end = skip_quoted(sql, i, '\'')) == std::string_view::npos) unclosed("string");
    } else if ((c == 'E' || c == 'e') && i + 1 < sql.size() && sql[i + 1] == '\'' &&
               (i == 0 || !is_ident(sql[i - 1]))) {
      if ((end = skip_escape_string(sql, i)) == std::string_view::npos) unclosed("string");
    } else if (c == '"') {
      if ((end = skip_quoted(sql, i, '"')) == std::string_view::npos) unclosed("identifier");
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size();
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      if ((end = skip_block_comment(sql, i)) == std::string_view::npos) unclosed("comment");
    } else if (c == '$' && (i == 0 || !is_ident(sql[i - 1]))) {
      if (i + 1 < sql.size() && is_digit(sql[i + 1]))
        throw std::invalid_argument("SQL: write parameters as ?1 .. ?n, not $n");
      end = skip_dollar_quoted(sql, i);
      if (end == std::string_view::npos) end = i + 1;  // a lone $ (an operator, say)
    } else if (c == '?') {
      std::size_t j = i + 1;
      while (j < sql.size() && is_digit(sql[j])) ++j;
      if (j == i + 1)
        throw std::invalid_argument("SQL: parameters are numbered: ?1 .. ?n (a bare ? is refused)");
      out += '$';
      out.append(sql.substr(i + 1, j - i - 1));
      i = j;
      continue;
    } else {
      end = i + 1;
    }
    out.append(sql.substr(i, end - i));
    i = end;
  }
  return out;
}

Parameter parameter(const SqlValue& value) {
  Parameter p;
  if (std::holds_alternative<std::nullptr_t>(value)) {
    p.null = true;
  } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
    p.text = std::to_string(*i);
    p.type = 20;
  } else if (const auto* d = std::get_if<double>(&value)) {
    char buffer[32];
    auto r = std::to_chars(buffer, buffer + sizeof buffer, *d);  // shortest exact form
    p.text.assign(buffer, r.ptr);
    p.type = 701;
  } else {
    p.text = std::get<std::string>(value);
  }
  return p;
}

SqlValue value_of(unsigned type, std::string_view text) {
  switch (type) {
    case 16:  // bool
      return std::int64_t{text == "t" ? 1 : 0};
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
    case 26:  // oid
    {
      std::int64_t v = 0;
      std::from_chars(text.data(), text.data() + text.size(), v);
      return v;
    }
    case 700:   // float4
    case 701:   // float8
    case 1700:  // numeric
      return std::strtod(std::string(text).c_str(), nullptr);
    default:
      return std::string(text);
  }
}

}  // namespace passerelle::pg
