// The eligibility rules of offers: a small declarative language in YAML (or the same shape in
// JSON), compiled once into a flat program, evaluated against a place (a commune or an
// intercommunality) without allocating, and explained in French on demand.
//
//   all: [ ... ]  any: [ ... ]  not: { ... }          combinators
//   population: {min: 1000, max: 20000}               bounds, inclusive
//   kind: commune | epci                              kind of authority
//   region: ["52", "53"]   department: ["44", "49"]   INSEE codes
//   programme: petites-villes-de-demain               membership (imported lists)
//   date: {from: 2024-01-01, until: 2026-12-31}       the offer's window, against today
//   theme: [eau, assainissement]                      the project's theme, when one is given
//
// An unknown field or operator is an error at load, never a silent false.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace passerelle::plugins::offers {

/// A rule refused at load: where (a path such as "eligibility.all[1].population.max", and the
/// YAML mark, line and column from 1) and why.
class RuleError : public std::runtime_error {
 public:
  RuleError(std::string path, int line, int column, const std::string& message)
      : std::runtime_error(path + ": " + message),
        path_(std::move(path)),
        line_(line),
        column_(column) {}
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  std::string path_;
  int line_, column_;
};

/// A place as rules read it. Codes are interned once (Rules::place()), so that an evaluation
/// compares integers.
struct Place {
  bool epci = false;  // an intercommunality, else a commune
  std::int64_t population = 0;
  int region = -1;  // Rules' interned ids; -1: a code no rule names
  int department = -1;
  std::uint64_t programmes = 0;  // bit i: member of programme i
  bool any_theme = true;         // no project theme given: theme conditions hold
  std::uint64_t themes = 0;      // else bit i: the project's theme is rules' theme i
};

/// What explain() needs to name things in French.
struct Names {
  std::function<std::string(const std::string&)> region;      // "52" -> "Pays de la Loire"
  std::function<std::string(const std::string&)> department;  // "49" -> "Maine-et-Loire"
  std::function<std::string(const std::string&)> programme;   // id -> its label
};

class Rules {
 public:
  /// At most this many programmes can be named by rules.
  static constexpr std::size_t kMaxProgrammes = 64;
  /// At most this many conditions in one rule, and codes in one list.
  static constexpr std::size_t kMaxConditions = 200;
  static constexpr std::size_t kMaxCodes = 200;
  /// The largest population bound.
  static constexpr std::int64_t kMaxPopulation = 1'000'000'000;

  /// Compiles `node` (the rule's root, `path` its name in messages); returns its id. Throws
  /// RuleError. `programme_known(id)` says whether a programme exists.
  int compile(const YAML::Node& node, const std::string& path,
              const std::function<bool(const std::string&)>& programme_known);

  /// The place of a commune or intercommunality, its codes interned. `member(programme)` says
  /// whether it belongs to a programme (asked once per programme rules name).
  Place place(bool epci, std::int64_t population, std::string_view region,
              std::string_view department,
              const std::function<bool(const std::string&)>& member) const;

  /// The project's theme, for `theme` conditions (a theme no rule names matches none).
  void with_theme(Place& place, std::string_view theme) const;

  /// Whether `place` satisfies rule `rule` on day `today` (days since 1970-01-01). No
  /// allocation, no lookup by name.
  bool eligible(int rule, const Place& place, std::int64_t today) const {
    return eval(roots_[static_cast<std::size_t>(rule)], place, today);
  }

  /// The same, with the reasons in French: why it is eligible, or why not.
  bool explain(int rule, const Place& place, std::int64_t today, const Names& names,
               std::vector<std::string>& reasons) const;

  /// The ids of the programmes rules name, in bit order.
  const std::vector<std::string>& programmes() const { return programmes_; }

 private:
  enum class Op : std::uint8_t {
    all,
    any,
    negate,
    population,
    kind,
    region,
    department,
    programme,
    date,
    theme
  };
  struct Node {
    Op op;
    bool flag = false;                       // kind: epci
    bool has_low = false, has_high = false;  // which bounds the rule gives
    std::int64_t low = 0, high = 0;          // population bounds, date window (days)
    std::uint32_t first = 0, count = 0;      // children (in kids_) or codes (in codes_)
    std::uint64_t mask = 0;                  // theme: the bits of its themes
  };

  bool eval(std::uint32_t node, const Place& place, std::int64_t today) const;
  bool explain_node(std::uint32_t node, const Place& place, std::int64_t today, const Names& names,
                    std::vector<std::string>& reasons) const;
  std::uint32_t compile_node(const YAML::Node& node, const std::string& path,
                             const std::function<bool(const std::string&)>& programme_known,
                             std::size_t& conditions);
  int intern(const std::string& code, std::vector<std::string>& names,
             std::unordered_map<std::string, int>& ids);

  std::vector<Node> nodes_;
  std::vector<std::uint32_t> kids_;
  std::vector<int> codes_;
  std::vector<std::uint32_t> roots_;
  std::vector<std::string> region_codes_, department_codes_, programmes_, themes_;
  std::unordered_map<std::string, int> region_ids_, department_ids_, programme_ids_, theme_ids_;
};

/// Days since 1970-01-01 of "YYYY-MM-DD", or -1 when malformed.
std::int64_t days_of(std::string_view date);
/// "1 janvier 2027".
std::string french_date(std::int64_t days);
/// "156 000".
std::string french_number(std::int64_t n);

}  // namespace passerelle::plugins::offers
