// The roles of the platform: the one list that accounts, configs and plugin routes check against.
#pragma once

#include <string>

namespace passerelle {

/// "elu", "agent", "advisor" or "operator".
inline bool is_known_role(const std::string& role) {
  return role == "elu" || role == "agent" || role == "advisor" || role == "operator";
}

}  // namespace passerelle
