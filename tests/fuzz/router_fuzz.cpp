// Fuzzes Router: templates added and paths looked up from the input, each answer checked
// against a brute-force model of "the most specific route of this method wins" ({name...}: the
// rest of the path).
//
// Input: one command per line. "+METHOD TEMPLATE" adds a route; "METHOD PATH" looks a path up.
#include "http/router.hpp"

#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using passerelle::Router;

namespace {

struct ModelRoute {
  std::string method;
  std::vector<std::string> parts;  // "{name}" for a parameter
  std::size_t id;
};

bool is_param(const std::string& part) { return part.size() >= 2 && part.front() == '{'; }

// "{name...}": the rest of the path, zero or more segments (last only).
bool is_rest(const std::string& part) {
  return is_param(part) && part.size() > 5 && part.compare(part.size() - 4, 4, "...}") == 0;
}

// 0: a literal, 1: a parameter, 2: the rest of the path.
int kind(const std::string& part) { return is_rest(part) ? 2 : is_param(part) ? 1 : 0; }

bool model_matches(const ModelRoute& r, const std::vector<std::string>& segments) {
  const bool rest = !r.parts.empty() && is_rest(r.parts.back());
  if (rest ? segments.size() + 1 < r.parts.size() : r.parts.size() != segments.size()) return false;
  for (std::size_t i = 0; i < r.parts.size() && !is_rest(r.parts[i]); ++i)
    if (!is_param(r.parts[i]) && r.parts[i] != segments[i]) return false;
  return true;
}

// At the first position where the two differ, a literal beats a parameter, which beats the
// rest of a path; on a common prefix, the shorter wins (a rest matches nothing at all too).
bool model_more_specific(const ModelRoute& a, const ModelRoute& b) {
  for (std::size_t i = 0; i < a.parts.size() && i < b.parts.size(); ++i)
    if (kind(a.parts[i]) != kind(b.parts[i])) return kind(a.parts[i]) < kind(b.parts[i]);
  return a.parts.size() < b.parts.size();
}

// split(): non-empty segments without '/', which joined with '/' give the path without its
// empty segments.
void check_split(const std::string& path, const std::vector<std::string>& segments) {
  std::string joined, collapsed;
  for (const auto& s : segments) {
    FUZZ_CHECK(!s.empty());
    FUZZ_CHECK(s.find('/') == std::string::npos);
    joined += "/" + s;
  }
  for (std::size_t pos = 0; pos < path.size();) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    if (end > pos) collapsed += "/" + path.substr(pos, end - pos);
    pos = end + 1;
  }
  FUZZ_CHECK(joined == collapsed);
}

void check_find(const Router& router, const std::vector<ModelRoute>& model,
                const std::string& method, const std::vector<std::string>& segments) {
  const Router::Result result = router.find(method, segments);
  // HEAD is answered by the GET route; 405 lists HEAD wherever GET is allowed.
  const std::string wanted = method == "HEAD" ? "GET" : method;
  const ModelRoute* best = nullptr;
  std::vector<std::string> allowed;
  for (const auto& r : model) {
    if (!model_matches(r, segments)) continue;
    if (r.method == wanted) {
      if (!best || model_more_specific(r, *best)) best = &r;
    } else if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) {
      allowed.push_back(r.method);
    }
  }
  if (best) {
    FUZZ_CHECK(result.outcome == Router::Outcome::found);
    FUZZ_CHECK(result.match.id == best->id);
    std::size_t params = 0;
    for (std::size_t i = 0; i < best->parts.size(); ++i) {
      const std::string& part = best->parts[i];
      if (!is_param(part)) continue;
      ++params;
      std::string value = i < segments.size() ? segments[i] : std::string();
      std::string name = part.substr(1, part.size() - 2);
      if (is_rest(part)) {
        name.resize(name.size() - 3);
        for (std::size_t j = i + 1; j < segments.size(); ++j) value += "/" + segments[j];
      }
      const auto it = result.match.params.find(name);
      FUZZ_CHECK(it != result.match.params.end() && it->second == value);
    }
    FUZZ_CHECK(result.match.params.size() == params);
    return;
  }
  if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) allowed.push_back("HEAD");
  std::sort(allowed.begin(), allowed.end());
  FUZZ_CHECK(result.outcome ==
             (allowed.empty() ? Router::Outcome::not_found : Router::Outcome::method_not_allowed));
  FUZZ_CHECK(result.allowed == allowed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Router router;
  std::vector<ModelRoute> model;
  std::size_t pos = 0;
  while (pos < input.size()) {
    const std::size_t end = std::min(input.find('\n', pos), input.size());
    std::string_view line = input.substr(pos, end - pos);
    pos = end + 1;
    const bool add = !line.empty() && line.front() == '+';
    if (add) line.remove_prefix(1);
    const std::size_t space = line.find(' ');
    const std::string method(line.substr(0, space));
    const std::string path(space == std::string_view::npos ? "" : line.substr(space + 1));

    const auto segments = Router::split(path);
    check_split(path, segments);
    if (add) {
      std::string error;
      const std::size_t id = model.size();
      if (router.add(method, path, id, error))
        model.push_back({method, segments, id});
      else
        FUZZ_CHECK(!error.empty());
    } else {
      check_find(router, model, method, segments);
    }
  }
  return 0;
}
