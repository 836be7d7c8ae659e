// Portable SQL (see Database in passerelle/host.hpp) as PostgreSQL reads it.
#pragma once

#include "passerelle/host.hpp"

#include <string>
#include <string_view>

namespace passerelle::pg {

/// `?1 .. ?n` written `$1 .. $n`, outside string literals ('…', E'…'), quoted identifiers
/// ("…"), dollar-quoted strings ($tag$…$tag$) and comments. Throws std::invalid_argument on
/// an anonymous `?` or a `$n` written by hand: the portable form is `?n`, numbered.
std::string translate_placeholders(std::string_view sql);

/// The text PostgreSQL receives for a parameter (text format), and its type: int8 and float8
/// for numbers, unknown (inferred from where it is used) for text and NULL.
struct Parameter {
  std::string text;
  bool null = false;
  unsigned type = 0;  // an Oid: 20 int8, 701 float8, 0 inferred
};
Parameter parameter(const SqlValue& value);

/// A value PostgreSQL returned as text, converted by its column's type: integers (int2, int4,
/// int8, oid) and booleans as integers, float4/float8/numeric as doubles, the rest as text.
SqlValue value_of(unsigned type, std::string_view text);

}  // namespace passerelle::pg
