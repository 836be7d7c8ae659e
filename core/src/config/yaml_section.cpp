// Strict YAML reading with positions; environment substitution for secrets.
#include "config/yaml_section.hpp"

#include <charconv>
#include <cstdlib>

namespace passerelle {

void fail_at(const std::string& file, const YAML::Node& node, const std::string& message) {
  const YAML::Mark mark = node.Mark();
  // yaml-cpp counts from 0 and uses -1 for nodes built in memory.
  throw ConfigError(file, mark.line < 0 ? 1 : mark.line + 1, mark.column < 0 ? 1 : mark.column + 1,
                    message);
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || value < 0 || end == text.data()) return std::nullopt;
  const std::string unit(end, text.data() + text.size());
  std::int64_t ms_per_unit = 0;
  if (unit == "ms") ms_per_unit = 1;
  if (unit == "s") ms_per_unit = 1000;
  if (unit == "m") ms_per_unit = 60'000;
  if (unit == "h") ms_per_unit = 3'600'000;
  // Beyond a year no timeout or interval makes sense, and far beyond it the milliseconds (and
  // the deadlines computed from them) would overflow.
  constexpr std::int64_t kMaxMs = 366LL * 24 * 3'600'000;
  if (ms_per_unit == 0 || value > kMaxMs / ms_per_unit) return std::nullopt;
  return std::chrono::milliseconds(value * ms_per_unit);
}

std::optional<std::string> substitute_env(const std::string& text, std::string& missing) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("${", pos);
    if (open == std::string::npos) break;
    const std::size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    out.append(text, pos, open - pos);
    std::string name = text.substr(open + 2, close - open - 2);
    std::optional<std::string> fallback;
    if (auto dash = name.find(":-"); dash != std::string::npos) {
      fallback = name.substr(dash + 2);
      name.resize(dash);
    }
    if (const char* env = std::getenv(name.c_str()); env != nullptr && *env != '\0') {
      out += env;
    } else if (fallback) {
      out += *fallback;
    } else {
      missing = name;
      return std::nullopt;
    }
    pos = close + 1;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

namespace {
// yaml-cpp's operator bool is true for null nodes too.
bool present(const YAML::Node& v) { return v.IsDefined() && !v.IsNull(); }
}  // namespace

YamlSection::YamlSection(YAML::Node node, std::string file)
    : node_(std::move(node)), file_(std::move(file)) {
  if (present(node_) && !node_.IsMap()) fail_at(file_, node_, "expected a mapping");
}

bool YamlSection::has(const std::string& key) const {
  return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull();
}

YAML::Node YamlSection::value(const std::string& key) {
  read_.insert(key);
  if (!node_ || !node_.IsMap()) return YAML::Node();
  YAML::Node v = node_[key];
  if (!v || v.IsNull()) return YAML::Node();
  return v;
}

void YamlSection::fail(const std::string& key, const std::string& message) const {
  if (node_ && node_.IsMap() && node_[key]) fail_at(file_, node_[key], key + ": " + message);
  fail_at(file_, node_, key + ": " + message);
}

std::string YamlSection::scalar(const YAML::Node& v, const std::string& key) {
  if (!v.IsScalar()) fail_at(file_, v, key + ": expected a scalar value");
  std::string missing;
  auto text = substitute_env(v.Scalar(), missing);
  if (!text) fail_at(file_, v, key + ": environment variable " + missing + " is not set");
  return *text;
}

std::string YamlSection::string(const std::string& key, const std::string& fallback) {
  YAML::Node v = value(key);
  return present(v) ? scalar(v, key) : fallback;
}

std::string YamlSection::required_string(const std::string& key) {
  YAML::Node v = value(key);
  if (!present(v)) fail(key, "is required");
  std::string s = scalar(v, key);
  if (s.empty()) fail_at(file_, v, key + ": must not be empty");
  return s;
}

std::int64_t YamlSection::integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                                  std::int64_t max) {
  YAML::Node v = value(key);
  if (!present(v)) return fallback;
  const std::string s = scalar(v, key);
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{} || end != s.data() + s.size())
    fail_at(file_, v, key + ": expected an integer, got \"" + s + "\"");
  if (out < min || out > max)
    fail_at(file_, v,
            key + ": must be between " + std::to_string(min) + " and " + std::to_string(max));
  return out;
}

double YamlSection::number(const std::string& key, double fallback) {
  YAML::Node v = value(key);
  if (!present(v)) return fallback;
  const std::string s = scalar(v, key);
  double out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{} || end != s.data() + s.size())
    fail_at(file_, v, key + ": expected a number, got \"" + s + "\"");
  return out;
}

bool YamlSection::boolean(const std::string& key, bool fallback) {
  YAML::Node v = value(key);
  if (!present(v)) return fallback;
  const std::string s = scalar(v, key);
  if (s == "true") return true;
  if (s == "false") return false;
  fail_at(file_, v, key + ": expected true or false, got \"" + s + "\"");
}

std::chrono::milliseconds YamlSection::duration(const std::string& key,
                                                std::chrono::milliseconds fallback) {
  YAML::Node v = value(key);
  if (!present(v)) return fallback;
  const std::string s = scalar(v, key);
  auto d = parse_duration(s);
  if (!d)
    fail_at(
        file_, v,
        key + ": expected a duration such as 500ms, 10s, 5m (at most a year), got \"" + s + "\"");
  return *d;
}

std::vector<std::string> YamlSection::string_list(const std::string& key) {
  YAML::Node v = value(key);
  std::vector<std::string> out;
  if (!present(v)) return out;
  if (!v.IsSequence()) fail_at(file_, v, key + ": expected a list");
  for (const auto& item : v) out.push_back(scalar(item, key));
  return out;
}

YamlSection YamlSection::section(const std::string& key) {
  YAML::Node v = value(key);
  if (present(v) && !v.IsMap()) fail_at(file_, v, key + ": expected a mapping");
  return YamlSection(v, file_);
}

std::vector<YamlSection> YamlSection::sections(const std::string& key) {
  YAML::Node v = value(key);
  std::vector<YamlSection> out;
  if (!present(v)) return out;
  if (!v.IsSequence()) fail_at(file_, v, key + ": expected a list");
  for (const auto& item : v) {
    if (!item.IsMap()) fail_at(file_, item, key + ": each entry must be a mapping");
    out.emplace_back(item, file_);
  }
  return out;
}

YAML::Node YamlSection::raw(const std::string& key) { return value(key); }

void YamlSection::finish() const {
  if (!node_ || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    if (!read_.count(key)) fail_at(file_, kv.first, "unknown key \"" + key + "\"");
  }
}

}  // namespace passerelle
