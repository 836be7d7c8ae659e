#include "rules.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace passerelle::plugins::offers {

namespace {

[[noreturn]] void fail(const YAML::Node& node, const std::string& path, const std::string& why) {
  const YAML::Mark mark = node.Mark();
  throw RuleError(path, mark.line + 1, mark.column + 1, why);
}

std::string scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(node, path, "expected a value");
  return node.Scalar();
}

std::int64_t integer(const YAML::Node& node, const std::string& path) {
  const std::string text = scalar(node, path);
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0)
    fail(node, path, "expected a whole number, 0 or more");
  return value;
}

bool is_region(const std::string& c) {
  return c.size() == 2 && std::isdigit(static_cast<unsigned char>(c[0])) &&
         std::isdigit(static_cast<unsigned char>(c[1]));
}

bool is_department(const std::string& c) {
  if (c == "2A" || c == "2B") return true;
  return (c.size() == 2 || (c.size() == 3 && c.rfind("97", 0) == 0)) &&
         std::all_of(c.begin(), c.end(), [](unsigned char ch) { return std::isdigit(ch); });
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " et " : ", ") + items[i];
  return out;
}

}  // namespace

std::int64_t days_of(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return -1;
  int y = 0, m = 0, day = 0;
  // Each field read whole: "2024-1x-05" and "2024-01-5 " are no dates.
  const auto number = [&](std::size_t at, std::size_t length, int& into) {
    const auto [end, ec] = std::from_chars(d.data() + at, d.data() + at + length, into);
    return ec == std::errc() && end == d.data() + at + length;
  };
  if (!number(0, 4, y) || !number(5, 2, m) || !number(8, 2, day)) return -1;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || day < 1 || day > kDays[m - 1] ||
      (m == 2 && day == 29 && !leap))
    return -1;
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int era = y / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy =
      (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(day) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::string french_date(std::int64_t z) {
  z += 719468;
  const std::int64_t era = z / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  static constexpr const char* kMonths[] = {"janvier",   "février", "mars",     "avril",
                                            "mai",       "juin",    "juillet",  "août",
                                            "septembre", "octobre", "novembre", "décembre"};
  return std::to_string(d) + " " + kMonths[m - 1] + " " + std::to_string(y);
}

std::string french_number(std::int64_t n) {
  // Through an unsigned: the negation of the smallest integer overflows.
  const std::uint64_t magnitude =
      n < 0 ? ~static_cast<std::uint64_t>(n) + 1 : static_cast<std::uint64_t>(n);
  const std::string digits = std::to_string(magnitude);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ' ';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

int Rules::intern(const std::string& code, std::vector<std::string>& names,
                  std::unordered_map<std::string, int>& ids) {
  const auto [it, added] = ids.emplace(code, static_cast<int>(names.size()));
  if (added) names.push_back(code);
  return it->second;
}

int Rules::compile(const YAML::Node& node, const std::string& path,
                   const std::function<bool(const std::string&)>& programme_known) {
  // Compiled into scratch first: a rule refused halfway leaves nothing behind.
  const auto nodes = nodes_.size(), kids = kids_.size(), codes = codes_.size();
  try {
    std::size_t conditions = 0;
    const std::uint32_t root = compile_node(node, path, programme_known, conditions);
    roots_.push_back(root);
    return static_cast<int>(roots_.size() - 1);
  } catch (...) {
    nodes_.resize(nodes);
    kids_.resize(kids);
    codes_.resize(codes);
    throw;
  }
}

std::uint32_t Rules::compile_node(const YAML::Node& node, const std::string& path,
                                  const std::function<bool(const std::string&)>& programme_known,
                                  std::size_t& conditions) {
  if (++conditions > kMaxConditions)
    fail(node, path, "a rule holds at most " + std::to_string(kMaxConditions) + " conditions");
  if (!node.IsMap() || node.size() != 1)
    fail(node, path,
         "expected one condition: all, any, not, population, kind, region, department, "
         "programme, date or theme");
  const auto entry = *node.begin();
  const std::string key = entry.first.Scalar();
  const YAML::Node& value = entry.second;
  const std::string here = path + "." + key;
  Node n{};
  if (key == "all" || key == "any") {
    if (!value.IsSequence() || value.size() == 0)
      fail(value, here, "expected a list of conditions, at least one");
    n.op = key == "all" ? Op::all : Op::any;
    std::vector<std::uint32_t> children;
    for (std::size_t i = 0; i < value.size(); ++i)
      children.push_back(compile_node(value[i], here + "[" + std::to_string(i) + "]",
                                      programme_known, conditions));
    n.first = static_cast<std::uint32_t>(kids_.size());
    n.count = static_cast<std::uint32_t>(children.size());
    kids_.insert(kids_.end(), children.begin(), children.end());
  } else if (key == "not") {
    n.op = Op::negate;
    const std::uint32_t child = compile_node(value, here, programme_known, conditions);
    n.first = static_cast<std::uint32_t>(kids_.size());
    n.count = 1;
    kids_.push_back(child);
  } else if (key == "population" || key == "date") {
    if (!value.IsMap() || value.size() == 0)
      fail(value, here,
           key == "population" ? "expected {min: N, max: N}"
                               : "expected {from: YYYY-MM-DD, until: YYYY-MM-DD}");
    n.op = key == "population" ? Op::population : Op::date;
    const char* low = key == "population" ? "min" : "from";
    const char* high = key == "population" ? "max" : "until";
    for (const auto& bound : value) {
      const std::string name = bound.first.Scalar();
      const std::string at = here + "." + name;
      std::int64_t v = 0;
      if (name != low && name != high)
        fail(bound.first, at, std::string("unknown operator (") + low + ", " + high + ")");
      if (n.op == Op::population) {
        v = integer(bound.second, at);
        if (v > kMaxPopulation) fail(bound.second, at, "at most " + french_number(kMaxPopulation));
      } else {
        v = days_of(scalar(bound.second, at));
        if (v < 0) fail(bound.second, at, "expected a date YYYY-MM-DD");
      }
      if (name == low) {
        n.low = v;
        n.has_low = true;
      } else {
        n.high = v;
        n.has_high = true;
      }
    }
    if (n.has_low && n.has_high && n.low > n.high)
      fail(value, here, std::string(low) + " is above " + high);
  } else if (key == "kind") {
    const std::string kind = scalar(value, here);
    if (kind != "commune" && kind != "epci") fail(value, here, "expected commune or epci");
    n.op = Op::kind;
    n.flag = kind == "epci";
  } else if (key == "region" || key == "department") {
    n.op = key == "region" ? Op::region : Op::department;
    std::vector<YAML::Node> items;
    if (value.IsSequence())
      for (const auto& item : value) items.push_back(item);
    else
      items.push_back(value);
    if (items.empty()) fail(value, here, "expected at least one code");
    if (items.size() > kMaxCodes)
      fail(value, here, "at most " + std::to_string(kMaxCodes) + " codes");
    n.first = static_cast<std::uint32_t>(codes_.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string at = value.IsSequence() ? here + "[" + std::to_string(i) + "]" : here;
      const std::string code = scalar(items[i], at);
      if (n.op == Op::region ? !is_region(code) : !is_department(code))
        fail(items[i], at,
             "\"" + code + "\" is not " +
                 (n.op == Op::region ? "a region code (INSEE, two digits)" : "a department code"));
      codes_.push_back(n.op == Op::region ? intern(code, region_codes_, region_ids_)
                                          : intern(code, department_codes_, department_ids_));
    }
    n.count = static_cast<std::uint32_t>(items.size());
  } else if (key == "theme") {
    n.op = Op::theme;
    std::vector<YAML::Node> items;
    if (value.IsSequence())
      for (const auto& item : value) items.push_back(item);
    else
      items.push_back(value);
    if (items.empty() || items.size() > kMaxCodes)
      fail(value, here, "expected 1 to " + std::to_string(kMaxCodes) + " themes");
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string at = value.IsSequence() ? here + "[" + std::to_string(i) + "]" : here;
      const std::string theme = scalar(items[i], at);
      if (theme.empty() || theme.size() > 40) fail(items[i], at, "a theme of 1 to 40 bytes");
      if (!theme_ids_.contains(theme) && themes_.size() >= 64)
        fail(items[i], at, "rules name more than 64 themes");
      n.mask |= std::uint64_t{1} << intern(theme, themes_, theme_ids_);
    }
  } else if (key == "programme") {
    const std::string id = scalar(value, here);
    if (!programme_known(id)) fail(value, here, "no programme \"" + id + "\"");
    if (!programme_ids_.contains(id) && programmes_.size() >= kMaxProgrammes)
      fail(value, here, "rules name more than 64 programmes");
    n.op = Op::programme;
    n.first = static_cast<std::uint32_t>(intern(id, programmes_, programme_ids_));
  } else {
    fail(entry.first, here,
         "unknown condition (all, any, not, population, kind, region, department, programme, "
         "date, theme)");
  }
  nodes_.push_back(n);
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

void Rules::with_theme(Place& place, std::string_view theme) const {
  place.any_theme = false;
  place.themes = 0;
  if (auto it = theme_ids_.find(std::string(theme)); it != theme_ids_.end())
    place.themes = std::uint64_t{1} << it->second;
}

Place Rules::place(bool epci, std::int64_t population, std::string_view region,
                   std::string_view department,
                   const std::function<bool(const std::string&)>& member) const {
  Place p;
  p.epci = epci;
  p.population = population;
  if (auto it = region_ids_.find(std::string(region)); it != region_ids_.end())
    p.region = it->second;
  if (auto it = department_ids_.find(std::string(department)); it != department_ids_.end())
    p.department = it->second;
  for (std::size_t i = 0; i < programmes_.size(); ++i)
    if (member(programmes_[i])) p.programmes |= std::uint64_t{1} << i;
  return p;
}

bool Rules::eval(std::uint32_t index, const Place& place, std::int64_t today) const {
  const Node& n = nodes_[index];
  switch (n.op) {
    case Op::all:
      for (std::uint32_t i = 0; i < n.count; ++i)
        if (!eval(kids_[n.first + i], place, today)) return false;
      return true;
    case Op::any:
      for (std::uint32_t i = 0; i < n.count; ++i)
        if (eval(kids_[n.first + i], place, today)) return true;
      return false;
    case Op::negate:
      return !eval(kids_[n.first], place, today);
    case Op::population:
      return (!n.has_low || place.population >= n.low) &&
             (!n.has_high || place.population <= n.high);
    case Op::date:
      return (!n.has_low || today >= n.low) && (!n.has_high || today <= n.high);
    case Op::kind:
      return place.epci == n.flag;
    case Op::theme:
      return place.any_theme || (place.themes & n.mask) != 0;
    case Op::region:
    case Op::department: {
      const int id = n.op == Op::region ? place.region : place.department;
      for (std::uint32_t i = 0; i < n.count; ++i)
        if (codes_[n.first + i] == id) return true;
      return false;
    }
    case Op::programme:
      return (place.programmes >> n.first) & 1u;
  }
  return false;
}

bool Rules::explain(int rule, const Place& place, std::int64_t today, const Names& names,
                    std::vector<std::string>& reasons) const {
  return explain_node(roots_[static_cast<std::size_t>(rule)], place, today, names, reasons);
}

// The reasons of one node: for a condition that holds, why it does; for one that does not, why
// not. A combinator gives those of the children that decided it.
bool Rules::explain_node(std::uint32_t index, const Place& place, std::int64_t today,
                         const Names& names, std::vector<std::string>& reasons) const {
  const Node& n = nodes_[index];
  const bool holds = eval(index, place, today);
  const auto list = [&](const std::vector<std::string>& codes, bool region) {
    std::vector<std::string> named;
    for (std::uint32_t i = 0; i < n.count; ++i) {
      const std::string& code = codes[static_cast<std::size_t>(codes_[n.first + i])];
      named.push_back((region ? names.region : names.department)(code));
    }
    return join(named);
  };
  switch (n.op) {
    case Op::all:
      for (std::uint32_t i = 0; i < n.count; ++i) {
        const std::uint32_t kid = kids_[n.first + i];
        // Eligible: every condition says why; not: only those that failed.
        if (holds || !eval(kid, place, today)) explain_node(kid, place, today, names, reasons);
      }
      break;
    case Op::any:
      for (std::uint32_t i = 0; i < n.count; ++i) {
        const std::uint32_t kid = kids_[n.first + i];
        if (!holds || eval(kid, place, today)) {
          explain_node(kid, place, today, names, reasons);
          if (holds) break;  // the first that holds is reason enough
        }
      }
      break;
    case Op::negate: {
      std::vector<std::string> inner;
      explain_node(kids_[n.first], place, today, names, inner);
      for (auto& r : inner) reasons.push_back((holds ? "non concerné : " : "exclu : ") + r);
      break;
    }
    case Op::population: {
      const std::string pop = "population " + french_number(place.population);
      if (n.has_high && place.population > n.high)
        reasons.push_back(pop + " au-dessus du plafond de " + french_number(n.high));
      else if (n.has_low && place.population < n.low)
        reasons.push_back(pop + " en dessous du seuil de " + french_number(n.low));
      else if (n.has_high)
        reasons.push_back(pop + " sous le plafond de " + french_number(n.high));
      else
        reasons.push_back(pop + " au-dessus du seuil de " + french_number(n.low));
      break;
    }
    case Op::date:
      if (n.has_low && today < n.low)
        reasons.push_back("offre ouverte à partir du " + french_date(n.low));
      else if (n.has_high && today > n.high)
        reasons.push_back("offre close depuis le " + french_date(n.high));
      else if (n.has_high)
        reasons.push_back("offre ouverte jusqu'au " + french_date(n.high));
      else
        reasons.push_back("offre ouverte");
      break;
    case Op::kind:
      if (holds)
        reasons.push_back(n.flag ? "intercommunalité" : "commune");
      else
        reasons.push_back(n.flag ? "réservé aux intercommunalités" : "réservé aux communes");
      break;
    case Op::region:
      reasons.push_back(std::string(holds ? "région parmi " : "région hors de ") +
                        list(region_codes_, true));
      break;
    case Op::department:
      reasons.push_back(std::string(holds ? "département parmi " : "département hors de ") +
                        list(department_codes_, false));
      break;
    case Op::theme: {
      std::string listed;
      for (std::size_t t = 0; t < themes_.size(); ++t)
        if ((n.mask >> t) & 1u) listed += (listed.empty() ? "" : ", ") + themes_[t];
      reasons.push_back(std::string(place.any_theme ? "projets des thèmes "
                                    : holds         ? "projet du thème parmi "
                                                    : "projet hors des thèmes ") +
                        listed);
      break;
    }
    case Op::programme:
      reasons.push_back(std::string(holds ? "membre du programme " : "hors du programme ") +
                        names.programme(programmes_[n.first]));
      break;
  }
  return holds;
}

}  // namespace passerelle::plugins::offers
