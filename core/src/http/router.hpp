// Matches a method and decoded path segments against path templates such as /api/x/{id}, or
// /api/x/{path...} for the rest of a path (a proxied service's).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace passerelle {

class Router {
 public:
  /// Registers a route; returns false with `error` set when the template is malformed or the
  /// same method and shape are already taken.
  bool add(const std::string& method, const std::string& path_template, std::size_t id,
           std::string& error);

  struct Match {
    std::size_t id = 0;
    std::map<std::string, std::string> params;
  };

  enum class Outcome { found, not_found, method_not_allowed };

  struct Result {
    Outcome outcome = Outcome::not_found;
    Match match;
    std::vector<std::string> allowed;  // for method_not_allowed: the methods of that path
  };

  /// Finds the most specific route: at each segment a literal beats a parameter. HEAD finds
  /// the GET route; the methods allowed on a path with a GET route include HEAD.
  Result find(const std::string& method, const std::vector<std::string>& segments) const;

  /// Splits a decoded path "/a/b" into {"a","b"}; "/" gives {}.
  static std::vector<std::string> split(const std::string& path);

 private:
  struct Segment {
    std::string text;
    bool param = false;
    bool rest = false;  // {name...}: the rest of the path, zero or more segments (last only)
  };
  struct Entry {
    std::string method;
    std::vector<Segment> segments;
    std::size_t id;
  };
  static bool matches(const Entry& e, const std::vector<std::string>& segments);
  static bool more_specific(const Entry& a, const Entry& b);
  void index();

  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::vector<Entry> entries_;  // most specific first
  // Positions in entries_, ascending: of the entries whose first two segments are literal, by
  // those two ("api/urbanisme"); and of all the others. A lookup walks the two lists merged, in
  // entries_' order, instead of every entry (the proxy's {path...} routes come last).
  std::unordered_map<std::string, std::vector<std::size_t>, TextHash, std::equal_to<>> by_prefix_;
  std::vector<std::size_t> loose_;
};

}  // namespace passerelle
