// JSON-lines logging to stderr, written by a background thread so callers never block on I/O.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace passerelle::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

/// Parses "debug", "info", "warn", "error" (anything else: info).
Level level_from_string(std::string_view name);

/// Sets the minimum level written.
void set_level(Level level);

/// Whether a line of that level would be written.
bool enabled(Level level);

/// One line: {"ts":..., "level":..., "component":..., "msg":..., ...fields}.
void write(Level level, std::string_view component, std::string_view message,
           boost::json::object fields = {});

/// Queues `lines` (whole lines, each ending in '\n') to be written in one piece, after what is
/// queued already. Returns an emptied buffer from an earlier call for reuse, or an empty string.
std::string hand_off(std::string lines);

/// Writes everything queued so far; call before exiting.
void flush();

inline void info(std::string_view component, std::string_view message,
                 boost::json::object fields = {}) {
  write(Level::info, component, message, std::move(fields));
}
inline void warn(std::string_view component, std::string_view message,
                 boost::json::object fields = {}) {
  write(Level::warn, component, message, std::move(fields));
}
inline void error(std::string_view component, std::string_view message,
                  boost::json::object fields = {}) {
  write(Level::error, component, message, std::move(fields));
}

}  // namespace passerelle::log
