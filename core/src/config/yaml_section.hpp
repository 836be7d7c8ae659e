// Typed, strict reading of one YAML mapping: wrong types and unknown keys are ConfigErrors.
#pragma once

#include "config/config_error.hpp"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace passerelle {

/// Raises a ConfigError at the position of `node` in `file`.
[[noreturn]] void fail_at(const std::string& file, const YAML::Node& node,
                          const std::string& message);

/// Parses "250ms", "10s", "5m", "1h"; std::nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

/// Replaces ${VAR} and ${VAR:-default} with the environment; std::nullopt names a missing VAR
/// through `missing`.
std::optional<std::string> substitute_env(const std::string& text, std::string& missing);

/// A YAML mapping read key by key. Call finish() last: it refuses keys that were not read.
class YamlSection {
 public:
  /// `node` may be null (absent section: every key takes its default).
  YamlSection(YAML::Node node, std::string file);

  std::string string(const std::string& key, const std::string& fallback);
  std::string required_string(const std::string& key);
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  double number(const std::string& key, double fallback);
  bool boolean(const std::string& key, bool fallback);
  std::chrono::milliseconds duration(const std::string& key, std::chrono::milliseconds fallback);
  std::vector<std::string> string_list(const std::string& key);
  /// A nested mapping (absent: an empty section).
  YamlSection section(const std::string& key);
  /// A nested sequence of mappings (absent: empty).
  std::vector<YamlSection> sections(const std::string& key);
  /// The raw node of a key (marked as read), possibly null.
  YAML::Node raw(const std::string& key);
  /// Whether the key is present.
  bool has(const std::string& key) const;

  /// Refuses the first key that no getter asked for.
  void finish() const;

  const std::string& file() const { return file_; }
  const YAML::Node& node() const { return node_; }
  /// Raises a ConfigError at the value of `key` (or the section itself when absent).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  YAML::Node value(const std::string& key);
  std::string scalar(const YAML::Node& value, const std::string& key);

  YAML::Node node_;
  std::string file_;
  std::set<std::string> read_;
};

}  // namespace passerelle
