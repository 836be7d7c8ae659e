// A plugin's own YAML file (its feeds, its settings): read with yaml-cpp, every error as
// "FILE:LINE:COL: message", like the gateway's config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace passerelle::plugins::yaml {

/// The document of `path`. Throws std::runtime_error("FILE:LINE:COL: ...") when it cannot be
/// read or parsed.
YAML::Node load_file(const std::string& path);

/// "FILE:LINE:COL: " of a node, to start an error message with.
std::string where(const std::string& path, const YAML::Node& node);

}  // namespace passerelle::plugins::yaml
