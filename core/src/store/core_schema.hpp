// The gateway's own tables (accounts, sessions, tokens, keys), migrated like a plugin's.
#pragma once

#include "passerelle/plugin.hpp"

#include <string>
#include <vector>

namespace passerelle {

/// Migrations of owner "core", in order.
std::vector<Migration> core_migrations();
/// The tables the core's migrations create, in lower case and in the order they are created
/// (a table before those that refer to it), those dropped since included.
std::vector<std::string> core_tables();

/// The table outside its own that a plugin called `plugin` would reach through its prefix
/// (table_prefix(): "user" owns "user_*"): a table of the core's migrations, the store's
/// schema_migrations or one of SQLite's own (sqlite_*). Empty when there is none.
std::string core_table_reached(const std::string& plugin);

}  // namespace passerelle
