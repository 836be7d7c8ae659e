#include "conseils_config.hpp"

#include "yaml_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

namespace passerelle::plugins::conseils {

using yaml::where;

namespace {

bool slug(const std::string& s) {
  if (s.empty() || s.size() > 40) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::int64_t integer(const std::string& path, const YAML::Node& v, const std::string& key,
                     std::int64_t low, std::int64_t high) {
  std::int64_t n = 0;
  try {
    if (!v.IsScalar()) throw std::invalid_argument(key);
    std::size_t used = 0;
    n = std::stoll(v.Scalar(), &used);
    if (used != v.Scalar().size()) throw std::invalid_argument(key);
  } catch (const std::exception&) {
    throw std::runtime_error(where(path, v) + key + ": a whole number");
  }
  if (n < low || n > high)
    throw std::runtime_error(where(path, v) + key + ": from " + std::to_string(low) + " to " +
                             std::to_string(high));
  return n;
}

}  // namespace

const Theme* Settings::theme(const std::string& id) const {
  for (const auto& t : themes)
    if (t.id == id) return &t;
  return nullptr;
}

std::vector<std::string> Settings::themes_of(const std::string& email,
                                             const std::string& provider) const {
  const std::string who = lower(email);
  for (const auto& a : advisors) {
    if (a.email != who || who.empty() || (!provider.empty() && a.provider != provider)) continue;
    if (std::find(a.themes.begin(), a.themes.end(), "all") == a.themes.end()) return a.themes;
    std::vector<std::string> all;
    for (const auto& t : themes) all.push_back(t.id);
    return all;
  }
  return {};
}

Settings load_settings(const std::string& path) {
  const YAML::Node root = yaml::load_file(path);
  if (!root.IsMap()) throw std::runtime_error(path + ":1:1: expected a mapping");
  Settings s;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "max_population") {
      s.max_population = integer(path, v, key, 1, 100'000'000);
    } else if (key == "themes") {
      if (!v.IsSequence()) throw std::runtime_error(where(path, v) + "themes: a list");
      std::set<std::string> ids;
      for (const auto& t : v) {
        if (!t.IsMap()) throw std::runtime_error(where(path, t) + "a theme: {id, label, days}");
        Theme theme;
        for (const auto& f : t) {
          const std::string name = f.first.Scalar();
          if (name == "id" && f.second.IsScalar() && slug(f.second.Scalar()) &&
              f.second.Scalar() != "all") {
            theme.id = f.second.Scalar();
          } else if (name == "id") {
            throw std::runtime_error(where(path, f.second) + "id: 1 to 40 of a-z, 0-9 and -");
          } else if (name == "label" && f.second.IsScalar() && !f.second.Scalar().empty() &&
                     f.second.Scalar().size() <= 100) {
            theme.label = f.second.Scalar();
          } else if (name == "label") {
            throw std::runtime_error(where(path, f.second) + "label: a text of 1 to 100 bytes");
          } else if (name == "days") {
            theme.days = static_cast<int>(integer(path, f.second, "days", 1, 365));
          } else {
            throw std::runtime_error(where(path, f.first) + "unknown key \"" + name + "\"");
          }
        }
        if (theme.id.empty()) throw std::runtime_error(where(path, t) + "id is required");
        if (!ids.insert(theme.id).second)
          throw std::runtime_error(where(path, t) + "id: " + theme.id + " is there twice");
        if (theme.label.empty()) theme.label = theme.id;
        s.themes.push_back(std::move(theme));
      }
    } else if (key == "advisors") {
      if (!v.IsSequence()) throw std::runtime_error(where(path, v) + "advisors: a list");
      for (const auto& a : v) {
        if (!a.IsMap())
          throw std::runtime_error(where(path, a) + "an advisor: {email, provider, themes}");
        Advisor advisor;
        YAML::Node themes;
        for (const auto& f : a) {
          const std::string name = f.first.Scalar();
          if (name == "email" && f.second.IsScalar() &&
              f.second.Scalar().find('@') != std::string::npos) {
            advisor.email = lower(f.second.Scalar());
          } else if (name == "email") {
            throw std::runtime_error(where(path, f.second) + "email: an address");
          } else if (name == "provider" && f.second.IsScalar() && !f.second.Scalar().empty() &&
                     f.second.Scalar().size() <= 40) {
            advisor.provider = f.second.Scalar();
          } else if (name == "provider") {
            throw std::runtime_error(where(path, f.second) +
                                     "provider: \"local\" or an OpenID provider's name");
          } else if (name == "themes" && f.second.IsSequence()) {
            themes = f.second;
          } else if (name == "themes") {
            throw std::runtime_error(where(path, f.second) + "themes: a list of theme ids");
          } else {
            throw std::runtime_error(where(path, f.first) + "unknown key \"" + name + "\"");
          }
        }
        if (advisor.email.empty()) throw std::runtime_error(where(path, a) + "email is required");
        if (!themes) throw std::runtime_error(where(path, a) + "themes is required");
        // Checked against the themes at the end (they may come after the advisors).
        for (const auto& t : themes) advisor.themes.push_back(t.IsScalar() ? t.Scalar() : "");
        s.advisors.push_back(std::move(advisor));
      }
    } else {
      throw std::runtime_error(where(path, kv.first) + "unknown key \"" + key + "\"");
    }
  }
  if (s.themes.empty()) throw std::runtime_error(path + ":1:1: themes: at least one");
  for (std::size_t i = 0; i < s.advisors.size(); ++i)
    for (const auto& t : s.advisors[i].themes)
      if (t != "all" && !s.theme(t))
        throw std::runtime_error(where(path, root["advisors"][i]) + "themes: no theme \"" + t +
                                 "\"");
  return s;
}

}  // namespace passerelle::plugins::conseils
