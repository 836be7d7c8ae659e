// The error of a bad configuration: one line naming file:line:col.
#pragma once

#include <stdexcept>
#include <string>

namespace passerelle {

/// Thrown at start-up for an invalid configuration; what() is "file:line:col: message".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& file, int line, int column, const std::string& message)
      : std::runtime_error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                           message) {}
};

}  // namespace passerelle
