// `passerelle --config F users ...` and `... tokens ...`: account and API token management.
#pragma once

#include "config/config.hpp"

#include <string>
#include <vector>

namespace passerelle {

/// Runs one admin command; returns the exit code. Errors are printed as one line.
int run_admin_command(const Config& config, const std::vector<std::string>& args);

/// Usage lines of the admin commands.
extern const char* const kAdminUsage;

}  // namespace passerelle
