// A plugin's config section: the schema the host checks it against, and a typed reader that
// declares each key once and reads the section into the plugin's own settings struct.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace passerelle {

/// Type of a config field.
enum class ConfigType { string, integer, number, boolean, duration, string_list, path };

/// One field of a plugin's config section. Unknown keys are refused by the host.
struct ConfigField {
  std::string name;                  ///< Key in the YAML section.
  ConfigType type;                   ///< Expected type; durations become milliseconds, paths
                                     ///< absolute (relative ones from the config file's folder).
  bool required = false;             ///< Whether the key must be present.
  boost::json::value default_value;  ///< Used when absent and not required.
  std::string description;           ///< One line for operators.
};

/// How a member of a settings struct is written in the config: std::string (string),
/// std::filesystem::path (path), bool (boolean), any other integer (integer), double (number),
/// std::chrono::milliseconds (duration, "30s" in YAML) and std::vector<std::string>
/// (string_list).
template <class T>
struct ConfigValue;

/// @cond internal
template <>
struct ConfigValue<std::string> {
  static constexpr ConfigType type = ConfigType::string;
  static boost::json::value write(const std::string& v) { return boost::json::value(v); }
  static std::string read(const boost::json::value& v) { return std::string(v.as_string()); }
};
template <>
struct ConfigValue<std::filesystem::path> {
  static constexpr ConfigType type = ConfigType::path;
  static boost::json::value write(const std::filesystem::path& v) {
    return boost::json::value(v.string());
  }
  static std::filesystem::path read(const boost::json::value& v) {
    return std::string(v.as_string());
  }
};
template <>
struct ConfigValue<bool> {
  static constexpr ConfigType type = ConfigType::boolean;
  static boost::json::value write(bool v) { return boost::json::value(v); }
  static bool read(const boost::json::value& v) { return v.as_bool(); }
};
template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) struct ConfigValue<T> {
  static constexpr ConfigType type = ConfigType::integer;
  static boost::json::value write(T v) { return boost::json::value(v); }
  static T read(const boost::json::value& v) { return v.to_number<T>(); }  // throws if too big
};
template <>
struct ConfigValue<double> {
  static constexpr ConfigType type = ConfigType::number;
  static boost::json::value write(double v) { return boost::json::value(v); }
  static double read(const boost::json::value& v) { return v.to_number<double>(); }
};
template <>
struct ConfigValue<std::chrono::milliseconds> {
  static constexpr ConfigType type = ConfigType::duration;
  static boost::json::value write(std::chrono::milliseconds v) {
    return boost::json::value(static_cast<std::int64_t>(v.count()));
  }
  static std::chrono::milliseconds read(const boost::json::value& v) {
    return std::chrono::milliseconds(v.to_number<std::int64_t>());
  }
};
template <>
struct ConfigValue<std::vector<std::string>> {
  static constexpr ConfigType type = ConfigType::string_list;
  static boost::json::value write(const std::vector<std::string>& v) {
    boost::json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  }
  static std::vector<std::string> read(const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
    return out;
  }
};
/// @endcond

/// The keys of a plugin's section, each declared once with the member of `Settings` it fills;
/// a key's default is that member's value in `Settings{}`. Declare it once, return schema()
/// from Plugin::config_schema() and call read() in start():
///
///     struct Settings { std::string greeting = "Bonjour"; std::int64_t max_items = 1000; };
///     const ConfigReader<Settings> kConfig = ConfigReader<Settings>()
///         .key("greeting", &Settings::greeting, "Text of GET /api/hello")
///         .key("max_items", &Settings::max_items, "Items kept at most");
///     ...
///     std::vector<ConfigField> config_schema() const override { return kConfig.schema(); }
///     Task<void> start(Host& host) override { settings_ = kConfig.read(host.config()); ... }
template <class Settings>
class ConfigReader {
 public:
  /// An optional key filling `member`; absent, the member keeps its default.
  template <class T>
  ConfigReader& key(std::string name, T Settings::*member, std::string description) {
    return add(std::move(name), member, std::move(description), false);
  }
  /// A key the section must hold (the host refuses the config without it).
  template <class T>
  ConfigReader& required_key(std::string name, T Settings::*member, std::string description) {
    return add(std::move(name), member, std::move(description), true);
  }

  /// The schema for Plugin::config_schema().
  std::vector<ConfigField> schema() const {
    std::vector<ConfigField> out;
    for (const auto& k : keys_) out.push_back(k.field);
    return out;
  }

  /// The settings read from the section the host validated (Host::config()). Throws
  /// std::invalid_argument naming the key when a value does not fit its member.
  Settings read(const boost::json::object& section) const {
    Settings settings{};
    for (const auto& k : keys_) {
      const auto* value = section.if_contains(k.field.name);
      if (!value || value->is_null()) continue;
      try {
        k.assign(settings, *value);
      } catch (const std::exception& e) {
        throw std::invalid_argument("config." + k.field.name + ": " + e.what());
      }
    }
    return settings;
  }

 private:
  struct Key {
    ConfigField field;
    std::function<void(Settings&, const boost::json::value&)> assign;
  };

  template <class T>
  ConfigReader& add(std::string name, T Settings::*member, std::string description, bool required) {
    const Settings defaults{};
    ConfigField field{std::move(name), ConfigValue<T>::type, required,
                      ConfigValue<T>::write(defaults.*member), std::move(description)};
    auto assign = [member](Settings& s, const boost::json::value& v) {
      s.*member = ConfigValue<T>::read(v);
    };
    keys_.push_back(Key{std::move(field), std::move(assign)});
    return *this;
  }

  std::vector<Key> keys_;
};

}  // namespace passerelle
