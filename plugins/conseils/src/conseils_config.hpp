// The service's settings, from a YAML file of its own (config key `settings_file`): the
// themes and their service levels, who advises on which themes, and the population above which
// a commune is sent to its regional directorate. An error names file:line:col.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace passerelle::plugins::conseils {

struct Theme {
  std::string id;     ///< [a-z0-9-], e.g. "urbanisme"
  std::string label;  ///< what users read, e.g. "Urbanisme"
  int days = 15;      ///< service level: an answer is due this many days after the request
};

struct Advisor {
  std::string email;                ///< lower case, as the identity carries it
  std::string provider = "local";   ///< who vouches for the address: the built-in accounts or
                                    ///< an OpenID provider by its name (one that checks e-mails)
  std::vector<std::string> themes;  ///< theme ids; "all" for every one
};

struct Settings {
  std::int64_t max_population = 10'000;  ///< a commune of this many or more is not served
  std::vector<Theme> themes;
  std::vector<Advisor> advisors;

  const Theme* theme(const std::string& id) const;
  /// The themes an advisor (by email, any case, from that provider) answers; empty when not an
  /// advisor here. An empty provider matches any listed provider (a hand-over by address).
  std::vector<std::string> themes_of(const std::string& email,
                                     const std::string& provider = {}) const;
};

/// Reads and checks the file. Throws std::runtime_error("FILE:LINE:COL: message").
Settings load_settings(const std::string& path);

}  // namespace passerelle::plugins::conseils
