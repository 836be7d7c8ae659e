// The gateway's own tables (accounts, sessions, tokens, keys), migrated like a plugin's.
#pragma once

#include "passerelle/plugin.hpp"

#include <vector>

namespace passerelle {

/// Migrations of owner "core", in order.
std::vector<Migration> core_migrations();

}  // namespace passerelle
