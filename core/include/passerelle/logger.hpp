// The plugin's log: lines prefixed with its name, written without blocking.
#pragma once

#include "passerelle/export.hpp"

#include <string_view>

namespace passerelle {

/// Log lines prefixed with the plugin's name. Never log secrets or personal data.
class PASSERELLE_SDK_API Logger {
 public:
  /// Severity of a log line.
  enum class Level { debug, info, warn, error };
  virtual ~Logger() = default;
  /// Writes one line; cheap and non-blocking.
  virtual void log(Level level, std::string_view message) = 0;
  /// Shorthands for log().
  void debug(std::string_view m) { log(Level::debug, m); }
  void info(std::string_view m) { log(Level::info, m); }    ///< Info line.
  void warn(std::string_view m) { log(Level::warn, m); }    ///< Warning line.
  void error(std::string_view m) { log(Level::error, m); }  ///< Error line.
};

}  // namespace passerelle
