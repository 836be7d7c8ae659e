// What the directorates plugin offers the other plugins through the host (Host::offer,
// Host::lookup_as): which directorate is in charge of a commune, and how to reach it. Include
// this header only; never link the plugin.
//
//     if (auto d = host.lookup_as<passerelle::directorates::Lookup>(
//             passerelle::directorates::kService))
//       if (auto contact = d->for_commune("49007")) ...
#pragma once

#include "passerelle/host.hpp"

#include <optional>
#include <string>

namespace passerelle::directorates {

/// The service's name.
inline constexpr const char* kService = "directorates";

/// A directorate as another plugin shows it: where to turn.
struct Contact {
  std::string id;
  std::string name;
  std::string address;
  std::string phone;
  std::string email;
};

class PASSERELLE_SDK_API Lookup : public Service {
 public:
  /// The directorate in charge of the commune (INSEE code), or nothing (unknown commune, or
  /// its department not covered). From memory: never waits, any thread.
  virtual std::optional<Contact> for_commune(const std::string& insee) const = 0;
};

}  // namespace passerelle::directorates
