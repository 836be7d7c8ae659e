// The dates news feeds carry: RFC 822 (RSS), RFC 3339 (Atom), and what French feeds write in
// practice (French day and month names, "dd/mm/yyyy - hh:mm", no zone at all).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace passerelle::plugins::localtis {

/// Epoch seconds of `text`, or nothing when it is no date this reads. A date without a zone is
/// Paris time (CET/CEST, the EU's rule: summer time from the last Sunday of March, 01:00 UTC,
/// to the last Sunday of October, 01:00 UTC).
std::optional<std::int64_t> parse_feed_date(std::string_view text);

/// Paris's offset from UTC, in seconds, at the local time given (3600 or 7200).
int paris_offset(int year, int month, int day, int hour);

/// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(int year, int month, int day);

}  // namespace passerelle::plugins::localtis
