// A cheap sanity check of a shared library file before dlopen: glibc's loader dies with SIGBUS
// on a truncated file, taking the whole gateway with it.
#pragma once

#include <optional>
#include <string>

namespace passerelle {

/// Why `path` is not a loadable ELF shared object of this machine, or nothing when it looks
/// whole (headers, program segments and section table within the file).
std::optional<std::string> check_elf(const std::string& path);

}  // namespace passerelle
