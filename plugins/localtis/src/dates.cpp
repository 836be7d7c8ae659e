#include "dates.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

namespace passerelle::plugins::localtis {

namespace {

// Lower case ASCII, the accents of French month names folded (é -> e, û -> u), other bytes as
// they are.
std::string fold(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0xC3 && i + 1 < text.size()) {
      const unsigned char n = static_cast<unsigned char>(text[i + 1]);
      if (n == 0xA9 || n == 0xA8 || n == 0x89)
        out += 'e';  // é è É
      else if (n == 0xBB || n == 0xB9)
        out += 'u';  // û ù
      else if (n == 0xA2)
        out += 'a';  // â
      else {
        out += static_cast<char>(c);
        out += static_cast<char>(n);
      }
      ++i;
      continue;
    }
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

// Words and numbers of the text, with the separators that matter kept apart.
struct Token {
  enum Kind { word, number, sign, colon, slash, other } kind;
  std::string text;
};

std::vector<Token> tokens_of(const std::string& s) {
  std::vector<Token> out;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isdigit(c)) {
      std::size_t j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      out.push_back({Token::number, s.substr(i, j - i)});
      i = j;
    } else if (std::isalpha(c) || c >= 0x80) {
      std::size_t j = i;
      while (j < s.size() && (std::isalpha(static_cast<unsigned char>(s[j])) ||
                              static_cast<unsigned char>(s[j]) >= 0x80))
        ++j;
      out.push_back({Token::word, s.substr(i, j - i)});
      i = j;
    } else if (c == '+' || c == '-') {
      out.push_back({Token::sign, std::string(1, static_cast<char>(c))});
      ++i;
    } else if (c == ':') {
      out.push_back({Token::colon, ":"});
      ++i;
    } else if (c == '/') {
      out.push_back({Token::slash, "/"});
      ++i;
    } else {
      ++i;  // spaces, commas, dots, "T", "h" handled by the words
    }
  }
  return out;
}

int month_of(const std::string& w) {
  static const std::pair<const char*, int> kMonths[] = {
      {"jan", 1},  {"janvier", 1},   {"feb", 2},       {"fev", 2},      {"fevrier", 2},
      {"mar", 3},  {"mars", 3},      {"apr", 4},       {"avr", 4},      {"avril", 4},
      {"may", 5},  {"mai", 5},       {"jun", 6},       {"juin", 6},     {"jul", 7},
      {"juil", 7}, {"juillet", 7},   {"aug", 8},       {"aou", 8},      {"aout", 8},
      {"sep", 9},  {"sept", 9},      {"septembre", 9}, {"oct", 10},     {"octobre", 10},
      {"nov", 11}, {"novembre", 11}, {"dec", 12},      {"decembre", 12}};
  for (const auto& [name, m] : kMonths)
    if (w == name) return m;
  // English full names ("june", "march") and abbreviations with a dot were cut at letters.
  if (w.size() > 3) {
    static const char* kEnglish[] = {"january",   "february", "march",    "april",
                                     "may",       "june",     "july",     "august",
                                     "september", "october",  "november", "december"};
    for (int m = 0; m < 12; ++m)
      if (w == kEnglish[m]) return m + 1;
  }
  return 0;
}

bool is_day_name(const std::string& w) {
  static const char* kDays[] = {"mon",    "tue",      "wed",    "thu",      "fri",       "sat",
                                "sun",    "lundi",    "mardi",  "mercredi", "jeudi",     "vendredi",
                                "samedi", "dimanche", "monday", "tuesday",  "wednesday", "thursday",
                                "friday", "saturday", "sunday", "lun",      "mer",       "jeu",
                                "ven",    "sam",      "dim"};
  for (const char* d : kDays)
    if (w == d) return true;
  return false;
}

// RFC 822's named zones, in seconds east of UTC.
std::optional<int> zone_of(const std::string& w) {
  if (w == "gmt" || w == "ut" || w == "utc" || w == "z") return 0;
  if (w == "est") return -5 * 3600;
  if (w == "edt") return -4 * 3600;
  if (w == "cst") return -6 * 3600;
  if (w == "cdt") return -5 * 3600;
  if (w == "mst") return -7 * 3600;
  if (w == "mdt") return -6 * 3600;
  if (w == "pst") return -8 * 3600;
  if (w == "pdt") return -7 * 3600;
  if (w == "cet") return 3600;
  if (w == "cest") return 7200;
  return std::nullopt;
}

bool valid(int year, int month, int day, int hour, int minute, int second) {
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1970 || year > 2200 || month < 1 || month > 12 || day < 1) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] || (month == 2 && day == 29 && !leap)) return false;
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
}

std::int64_t to_epoch(int year, int month, int day, int hour, int minute, int second) {
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

// The last Sunday of `month` in `year`.
int last_sunday(int year, int month) {
  const int last = 31;  // March and October both have 31 days
  const std::int64_t days = days_from_civil(year, month, last);
  const int weekday = static_cast<int>((days + 4) % 7);  // 1970-01-01 was a Thursday (4)
  return last - weekday;
}

}  // namespace

std::int64_t days_from_civil(int y, int m, int d) {
  // Howard Hinnant's algorithm.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int paris_offset(int year, int month, int day, int hour) {
  // Summer time runs from 02:00 local (01:00 UTC) on the last Sunday of March to 03:00 local
  // (01:00 UTC) on the last Sunday of October.
  if (month < 3 || month > 10) return 3600;
  if (month > 3 && month < 10) return 7200;
  const int change = last_sunday(year, month);
  if (month == 3) return day > change || (day == change && hour >= 2) ? 7200 : 3600;
  return day < change || (day == change && hour < 2) ? 7200 : 3600;
}

std::optional<std::int64_t> parse_feed_date(std::string_view raw) {
  if (raw.empty() || raw.size() > 100) return std::nullopt;
  const std::string text = fold(raw);
  const auto t = tokens_of(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::optional<int> offset;
  std::size_t i = 0;
  const auto number = [&](std::size_t k) {
    return k < t.size() && t[k].kind == Token::number ? std::stoi(t[k].text.substr(0, 9)) : -1;
  };
  const auto is = [&](std::size_t k, Token::Kind kind) {
    return k < t.size() && t[k].kind == kind;
  };

  while (is(i, Token::word) && is_day_name(t[i].text)) ++i;  // "Mon," "lundi"
  if (is(i, Token::number) && t[i].text.size() == 4 && is(i + 1, Token::sign) &&
      is(i + 2, Token::number) && is(i + 3, Token::sign) && is(i + 4, Token::number)) {
    // RFC 3339 / ISO 8601: 2025-06-02T08:30:00.123+02:00 (the T fell as a word).
    year = number(i);
    month = number(i + 2);
    day = number(i + 4);
    i += 5;
    if (is(i, Token::word) && t[i].text.rfind('t', 0) == 0) ++i;
  } else if (is(i, Token::number) && is(i + 1, Token::slash) && is(i + 2, Token::number) &&
             is(i + 3, Token::slash) && is(i + 4, Token::number)) {
    // 02/06/2025 (day first, as in France)
    day = number(i);
    month = number(i + 2);
    year = number(i + 4);
    i += 5;
  } else if (is(i, Token::number) && is(i + 1, Token::word) && is(i + 2, Token::number)) {
    // 02 Jun 2025, 2 juin 2025
    day = number(i);
    month = month_of(t[i + 1].text);
    year = number(i + 2);
    i += 3;
  } else if (is(i, Token::number) && is(i + 1, Token::word) && t[i + 1].text == "er" &&  // 1er
             is(i + 2, Token::word) && is(i + 3, Token::number)) {
    day = number(i);
    month = month_of(t[i + 2].text);
    year = number(i + 3);
    i += 4;
  } else {
    return std::nullopt;
  }
  if (year >= 0 && year < 100) year += year < 70 ? 2000 : 1900;  // RFC 822's two digits

  // The time: 08:30[:00], 8h30, "à 8h30", "- 08:30"
  while (is(i, Token::sign) ||
         (is(i, Token::word) && (t[i].text == "a" || t[i].text == "at" || t[i].text == "\xc3\xa0")))
    ++i;
  if (is(i, Token::number) &&
      (is(i + 1, Token::colon) || (is(i + 1, Token::word) && t[i + 1].text == "h"))) {
    hour = number(i);
    minute = is(i + 2, Token::number) ? number(i + 2) : 0;
    i += is(i + 2, Token::number) ? 3 : 2;
    if (is(i, Token::colon) && is(i + 1, Token::number)) {
      second = number(i + 1);
      i += 2;
      if (is(i, Token::number)) ++i;  // fractions of a second (the dot fell)
    }
  }
  // The zone: +0200, +02:00, Z, GMT, CEST
  if (is(i, Token::sign) && is(i + 1, Token::number)) {
    const int sign = t[i].text == "-" ? -1 : 1;
    int hours = 0, minutes = 0;
    if (t[i + 1].text.size() == 4) {
      hours = number(i + 1) / 100;
      minutes = number(i + 1) % 100;
    } else {
      hours = number(i + 1);
      if (is(i + 2, Token::colon) && is(i + 3, Token::number)) minutes = number(i + 3);
    }
    if (hours > 14 || minutes > 59) return std::nullopt;
    offset = sign * (hours * 3600 + minutes * 60);
  } else if (is(i, Token::word)) {
    offset = zone_of(t[i].text);
    if (!offset && t[i].text != "t") return std::nullopt;  // words we do not know: no date
  }
  if (!valid(year, month, day, hour, minute, second)) return std::nullopt;
  if (!offset) offset = paris_offset(year, month, day, hour);
  return to_epoch(year, month, day, hour, minute, second) - *offset;
}

}  // namespace passerelle::plugins::localtis
