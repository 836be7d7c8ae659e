// The feeds the plugin polls, from a YAML file of its own (config key `feeds_file`): an error
// names file:line:col, and nothing starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace passerelle::plugins::localtis {

struct FeedSource {
  std::string id;     ///< [a-z0-9-], unique: /api/localtis/feeds/{id}
  std::string url;    ///< https://… polled with conditional GETs (http:// if plain_http); or
  std::string file;   ///< a file (absolute, or relative to the feeds file): the demo's
  std::string theme;  ///< slug of its theme, e.g. "finances-locales"
  std::string theme_label;  ///< what the portal shows, e.g. "Finances locales"
  std::string region;       ///< INSEE code of its region when the feed is regional, else ""
  std::chrono::seconds interval{1800};       ///< between polls (60 s to 1 day)
  std::chrono::milliseconds timeout{10000};  ///< for the whole fetch (1 s to 60 s)
  std::int64_t keep = 5000;  ///< articles kept (the newest); older ones go (100 to 1,000,000)
  bool plain_http = false;   ///< an http:// url accepted, knowingly (default: https:// only)
};

/// Reads and checks the file. Throws std::runtime_error("FILE:LINE:COL: message").
std::vector<FeedSource> load_feeds(const std::string& path);

}  // namespace passerelle::plugins::localtis
