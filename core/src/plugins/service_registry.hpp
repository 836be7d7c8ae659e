// The services plugins offer each other (Host::offer, Host::lookup): by name, each held with
// the plugin that offers it, so that a caller's handle keeps that plugin's library loaded.
#pragma once

#include "passerelle/host.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace passerelle {

class LoadedPlugin;

class ServiceRegistry {
 public:
  /// std::invalid_argument when another running plugin offers `name`.
  void offer(const std::string& name, Service& service, const std::weak_ptr<LoadedPlugin>& owner);
  /// The service, sharing ownership of its plugin; empty unless that plugin is running.
  std::shared_ptr<Service> lookup(const std::string& name) const;
  /// Forgets the services of `owner` (stopped, failed, unloaded).
  void withdraw(const LoadedPlugin* owner);

 private:
  struct Entry {
    Service* service;
    std::weak_ptr<LoadedPlugin> owner;
    // While an upgrade starts beside it: the one it took the name over from.
    Service* previous_service = nullptr;
    std::weak_ptr<LoadedPlugin> previous_owner;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace passerelle
