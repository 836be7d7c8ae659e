// `passerelle --config FILE ctl ...`: the operators' runtime controls from a shell, through the
// running gateway's admin API with an operator's API token (PASSERELLE_TOKEN, never an argument:
// arguments show in the process list).
#pragma once

#include "config/config.hpp"

#include <string>
#include <vector>

namespace passerelle {

/// Runs one ctl command against the gateway of `config` (or PASSERELLE_URL); prints the answer
/// and returns 0 on a 2xx, 1 otherwise (the error on stderr), 64 on a usage error.
int run_ctl(const Config& config, const std::vector<std::string>& args);

extern const char* const kCtlUsage;

}  // namespace passerelle
