// Route matching by segments; few routes per gateway, so a sorted list is enough and simple.
#include "http/router.hpp"

#include <algorithm>
#include <set>

namespace passerelle {

namespace {
const std::string kGet = "GET";
}  // namespace

std::vector<std::string> Router::split(const std::string& path) {
  std::vector<std::string> out;
  // At most one segment per slash, and one more: one allocation, not one per doubling.
  out.reserve(static_cast<std::size_t>(std::count(path.begin(), path.end(), '/')) + 1);
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    const std::size_t end = std::min(path.find('/', pos), path.size());
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

bool Router::add(const std::string& method, const std::string& path_template, std::size_t id,
                 std::string& error) {
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  if (!kMethods.count(method)) {
    error = "unsupported method \"" + method + "\"";
    return false;
  }
  if (path_template.empty() || path_template[0] != '/') {
    error = "path \"" + path_template + "\" must start with /";
    return false;
  }
  Entry entry{method, {}, id};
  std::set<std::string> names;
  for (const auto& part : split(path_template)) {
    if (!entry.segments.empty() && entry.segments.back().rest) {
      error = "path \"" + path_template + "\": a {name...} parameter must be the last segment";
      return false;
    }
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      std::string name = part.substr(1, part.size() - 2);
      const bool rest = name.size() > 3 && name.compare(name.size() - 3, 3, "...") == 0;
      if (rest) name.resize(name.size() - 3);
      if (name.empty() || name.find_first_of("{}") != std::string::npos ||
          !names.insert(name).second) {
        error = "path \"" + path_template + "\" has a bad or repeated parameter \"" + part + "\"";
        return false;
      }
      entry.segments.push_back({std::move(name), true, rest});
    } else if (part.find_first_of("{}") != std::string::npos) {
      error = "path \"" + path_template + "\": a parameter must be a whole segment";
      return false;
    } else {
      entry.segments.push_back({part, false});
    }
  }
  for (const auto& other : entries_) {
    if (other.method != method || other.segments.size() != entry.segments.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < other.segments.size() && same; ++i)
      same = other.segments[i].param == entry.segments[i].param &&
             other.segments[i].rest == entry.segments[i].rest &&
             (other.segments[i].param || other.segments[i].text == entry.segments[i].text);
    if (same) {
      error = method + " " + path_template + " is already routed";
      return false;
    }
  }
  auto pos = std::upper_bound(entries_.begin(), entries_.end(), entry, more_specific);
  entries_.insert(pos, std::move(entry));
  index();
  return true;
}

namespace {
// The longest "first/second" prefix indexed; a longer one is looked up among the others.
constexpr std::size_t kMaxPrefix = 128;
}  // namespace

void Router::index() {
  by_prefix_.clear();
  loose_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& seg = entries_[i].segments;
    const bool keyed = seg.size() >= 2 && !seg[0].param && !seg[1].param &&
                       seg[0].text.size() + 1 + seg[1].text.size() <= kMaxPrefix;
    if (keyed)
      by_prefix_[seg[0].text + "/" + seg[1].text].push_back(i);
    else
      loose_.push_back(i);
  }
}

bool Router::more_specific(const Entry& a, const Entry& b) {
  const std::size_t n = std::min(a.segments.size(), b.segments.size());
  // At the first difference: a literal beats a parameter, which beats the rest of a path.
  for (std::size_t i = 0; i < n; ++i) {
    const int ka = a.segments[i].param + a.segments[i].rest;
    const int kb = b.segments[i].param + b.segments[i].rest;
    if (ka != kb) return ka < kb;
  }
  // Shorter first on a common prefix: without it the order is not a strict weak ordering, and
  // upper_bound misplaces a route once routes of other lengths sit between (found by fuzzing).
  return a.segments.size() < b.segments.size();
}

bool Router::matches(const Entry& e, const std::vector<std::string>& segments) {
  const bool rest = !e.segments.empty() && e.segments.back().rest;
  if (rest ? segments.size() + 1 < e.segments.size() : e.segments.size() != segments.size())
    return false;
  for (std::size_t i = 0; i < e.segments.size() && !e.segments[i].rest; ++i)
    if (!e.segments[i].param && e.segments[i].text != segments[i]) return false;
  return true;
}

Router::Result Router::find(const std::string& method,
                            const std::vector<std::string>& segments) const {
  // HEAD is GET without the body (RFC 9110 §9.3.2): same route, same checks; the session
  // leaves the body out.
  const std::string& wanted = method == "HEAD" ? kGet : method;
  Result result;
  // Only entries whose first two literal segments are the path's can match, besides the others.
  const std::vector<std::size_t>* keyed = nullptr;
  if (segments.size() >= 2 && segments[0].size() + 1 + segments[1].size() <= kMaxPrefix) {
    char text[kMaxPrefix];
    std::copy(segments[0].begin(), segments[0].end(), text);
    text[segments[0].size()] = '/';
    std::copy(segments[1].begin(), segments[1].end(), text + segments[0].size() + 1);
    const auto it =
        by_prefix_.find(std::string_view(text, segments[0].size() + 1 + segments[1].size()));
    if (it != by_prefix_.end()) keyed = &it->second;
  }
  std::size_t next_loose = 0;
  std::size_t next_keyed = 0;
  for (;;) {
    const bool loose_left = next_loose < loose_.size();
    const bool keyed_left = keyed && next_keyed < keyed->size();
    if (!loose_left && !keyed_left) break;
    const bool take_loose =
        loose_left && (!keyed_left || loose_[next_loose] < (*keyed)[next_keyed]);
    const Entry& e = entries_[take_loose ? loose_[next_loose++] : (*keyed)[next_keyed++]];
    if (!matches(e, segments)) continue;
    if (e.method == wanted) {
      // Entries are sorted most specific first, so this is the best match of this method, but
      // a more specific route of another method seen before does not hide it.
      result.outcome = Outcome::found;
      result.match.id = e.id;
      for (std::size_t i = 0; i < e.segments.size(); ++i) {
        if (e.segments[i].rest) {
          std::string joined;
          for (std::size_t j = i; j < segments.size(); ++j)
            joined += (j == i ? "" : "/") + segments[j];
          result.match.params[e.segments[i].text] = std::move(joined);
        } else if (e.segments[i].param) {
          result.match.params[e.segments[i].text] = segments[i];
        }
      }
      result.allowed.clear();
      return result;
    }
    if (std::find(result.allowed.begin(), result.allowed.end(), e.method) == result.allowed.end())
      result.allowed.push_back(e.method);
  }
  if (!result.allowed.empty()) {
    result.outcome = Outcome::method_not_allowed;
    if (std::find(result.allowed.begin(), result.allowed.end(), kGet) != result.allowed.end())
      result.allowed.push_back("HEAD");
    std::sort(result.allowed.begin(), result.allowed.end());
  }
  return result;
}

}  // namespace passerelle
