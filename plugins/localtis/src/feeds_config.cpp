#include "feeds_config.hpp"

#include "yaml_file.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

namespace passerelle::plugins::localtis {

using yaml::where;

namespace {

bool slug(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (const char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// "30m", "1h", "90s", "1d".
std::optional<std::chrono::seconds> duration_of(const std::string& text) {
  if (text.size() < 2 || text.size() > 8) return std::nullopt;
  long long n = 0;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    n = n * 10 + (text[i] - '0');
  }
  switch (text.back()) {
    case 's':
      return std::chrono::seconds(n);
    case 'm':
      return std::chrono::seconds(n * 60);
    case 'h':
      return std::chrono::seconds(n * 3600);
    case 'd':
      return std::chrono::seconds(n * 86400);
    default:
      return std::nullopt;
  }
}

}  // namespace

std::vector<FeedSource> load_feeds(const std::string& path) {
  const YAML::Node root = yaml::load_file(path);
  const YAML::Node list = root["feeds"];
  if (!root.IsMap() || !list || !list.IsSequence())
    throw std::runtime_error(path + ":1:1: expected a list under feeds");
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::vector<FeedSource> out;
  std::set<std::string> ids;
  for (const auto& entry : list) {
    if (!entry.IsMap())
      throw std::runtime_error(where(path, entry) + "each feed must be a mapping");
    FeedSource f;
    std::string url_at;  // where the url is written, for an error found after the loop
    for (const auto& kv : entry) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (!v.IsScalar()) throw std::runtime_error(where(path, v) + key + ": expected a text");
      const std::string value = v.Scalar();
      if (key == "id") {
        if (!slug(value, 40))
          throw std::runtime_error(where(path, v) + "id: 1 to 40 of a-z, 0-9 and -");
        if (!ids.insert(value).second)
          throw std::runtime_error(where(path, v) + "id: " + value + " is there twice");
        f.id = value;
      } else if (key == "url") {
        if (value.rfind("https://", 0) != 0 && value.rfind("http://", 0) != 0)
          throw std::runtime_error(where(path, v) + "url: an http:// or https:// address");
        f.url = value;
        url_at = where(path, v);
      } else if (key == "plain_http") {
        if (value != "true" && value != "false")
          throw std::runtime_error(where(path, v) + "plain_http: true or false");
        f.plain_http = value == "true";
      } else if (key == "file") {
        f.file = std::filesystem::path(value).is_absolute() ? value : (folder / value).string();
      } else if (key == "theme") {
        if (!slug(value, 60)) throw std::runtime_error(where(path, v) + "theme: a-z, 0-9 and -");
        f.theme = value;
      } else if (key == "theme_label") {
        f.theme_label = value;
      } else if (key == "region") {
        if (value.empty() || value.size() > 3)
          throw std::runtime_error(where(path, v) + "region: an INSEE region code");
        f.region = value;
      } else if (key == "interval") {
        const auto d = duration_of(value);
        if (!d || *d < std::chrono::seconds(60) || *d > std::chrono::hours(24))
          throw std::runtime_error(where(path, v) + "interval: from 60s to 1d, e.g. 30m");
        f.interval = *d;
      } else if (key == "keep") {
        std::int64_t n = 0;
        try {
          n = value.size() <= 7 ? std::stoll(value) : 0;
        } catch (const std::exception&) {
          n = 0;
        }
        if (n < 100 || n > 1'000'000)
          throw std::runtime_error(where(path, v) + "keep: from 100 to 1000000 articles");
        f.keep = n;
      } else if (key == "timeout") {
        const auto d = duration_of(value);
        if (!d || *d < std::chrono::seconds(1) || *d > std::chrono::seconds(60))
          throw std::runtime_error(where(path, v) + "timeout: from 1s to 60s, e.g. 10s");
        f.timeout = *d;
      } else {
        throw std::runtime_error(where(path, kv.first) + "unknown key \"" + key + "\"");
      }
    }
    if (f.id.empty()) throw std::runtime_error(where(path, entry) + "id is required");
    if (f.url.empty() == f.file.empty())
      throw std::runtime_error(where(path, entry) + "give url or file, one of them");
    if (f.url.rfind("http://", 0) == 0 && !f.plain_http)
      throw std::runtime_error(url_at +
                               "url: http:// can be read and changed on its way; give https://, "
                               "or plain_http: true to accept that for this feed");
    if (f.theme.empty()) throw std::runtime_error(where(path, entry) + "theme is required");
    if (f.theme_label.empty()) f.theme_label = f.theme;
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace passerelle::plugins::localtis
