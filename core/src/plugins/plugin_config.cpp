// Schema-driven reading of a plugin section, reusing the strict YAML reader of the core config.
#include "plugins/plugin_config.hpp"

#include "config/yaml_section.hpp"

#include <boost/json/array.hpp>

#include <filesystem>

namespace passerelle {

boost::json::object validate_plugin_config(const YAML::Node& section, const YAML::Node& entry,
                                           const std::string& file,
                                           const std::vector<ConfigField>& schema) {
  YamlSection s(section, file);
  boost::json::object out;
  for (const auto& field : schema) {
    const std::string& key = field.name;
    if (!s.has(key)) {
      if (field.required)
        fail_at(file, section.IsMap() ? section : entry, "config." + key + " is required");
      out[key] = field.default_value;
      s.raw(key);  // an explicit null counts as absent
      continue;
    }
    switch (field.type) {
      case ConfigType::string:
        out[key] = s.string(key, "");
        break;
      case ConfigType::path: {
        std::filesystem::path value = s.string(key, "");
        if (value.is_relative())
          value = (std::filesystem::absolute(file).parent_path() / value).lexically_normal();
        out[key] = value.string();
        break;
      }
      case ConfigType::integer:
        out[key] = s.integer(key, 0, INT64_MIN, INT64_MAX);
        break;
      case ConfigType::number:
        out[key] = s.number(key, 0);
        break;
      case ConfigType::boolean:
        out[key] = s.boolean(key, false);
        break;
      case ConfigType::duration:
        out[key] = s.duration(key, {}).count();
        break;
      case ConfigType::string_list: {
        boost::json::array list;
        for (auto& v : s.string_list(key)) list.emplace_back(v);
        out[key] = std::move(list);
        break;
      }
    }
  }
  s.finish();
  return out;
}

}  // namespace passerelle
