// Checks a plugin's YAML section against the schema the plugin declares.
#pragma once

#include "passerelle/plugin.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace passerelle {

/// The section as JSON with defaults filled in; ConfigError (file:line:col) on an unknown key,
/// a wrong type or a missing required key. `entry` is the plugin's list entry, for positions.
boost::json::object validate_plugin_config(const YAML::Node& section, const YAML::Node& entry,
                                           const std::string& file,
                                           const std::vector<ConfigField>& schema);

}  // namespace passerelle
