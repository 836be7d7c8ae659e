// `passerelle --config F store copy --to URL`: a SQLite deployment's data into an empty
// PostgreSQL database, for several instances to share.
#pragma once

#include "config/config.hpp"

#include <ostream>
#include <string>

namespace passerelle {

struct StoreCopyOptions {
  std::string to;  ///< postgresql://… of the target (its password may come from PGPASSWORD)
  bool sessions = false;  ///< copy open sessions too (else everyone logs in again)
};

/// Copies the store of `config` (SQLite) into the empty PostgreSQL database `options.to`: the
/// core's tables (accounts, federated links, API tokens, signing keys, territories; sessions
/// when asked) and the tables of every plugin the config lists, created there by the plugins'
/// own migrations under their own roles. Reads the source in one transaction (a consistent copy
/// of a running gateway's store), writes each table in one transaction, then compares the row
/// counts table by table. Writes its report and what to change in the config to `out`; throws
/// std::runtime_error (and changes nothing) when the source is not SQLite or the target not
/// empty; a failure midway names the table (the target is then to be emptied and the copy
/// made again).
void copy_store(const Config& config, const StoreCopyOptions& options, std::ostream& out);

}  // namespace passerelle
