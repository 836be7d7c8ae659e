#include "plugins/service_registry.hpp"

#include "plugins/loaded_plugin.hpp"

#include <stdexcept>

namespace passerelle {

void ServiceRegistry::offer(const std::string& name, Service& service,
                            const std::weak_ptr<LoadedPlugin>& owner) {
  if (name.empty()) throw std::invalid_argument("a service needs a name");
  const std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    const auto current = it->second.owner.lock();
    const auto offering = owner.lock();
    // An upgrade of the same plugin (started beside it, before the switch) takes the name over.
    if (current && current != offering && current->state() == LoadedPlugin::State::running &&
        !(offering && offering->info().name == current->info().name))
      throw std::invalid_argument("the service \"" + name + "\" is offered by plugin " +
                                  current->info().name);
  }
  Entry next{&service, owner, nullptr, {}};
  // An upgrade keeps the one it takes over from, to give the name back if it fails to start.
  if (it != entries_.end() && it->second.owner.lock() != owner.lock()) {
    next.previous_service = it->second.service;
    next.previous_owner = it->second.owner;
  }
  entries_[name] = next;
}

std::shared_ptr<Service> ServiceRegistry::lookup(const std::string& name) const {
  const std::lock_guard lock(mutex_);
  const auto it = entries_.find(name);
  if (it == entries_.end()) return {};
  auto owner = it->second.owner.lock();
  if (!owner || owner->state() != LoadedPlugin::State::running) return {};
  // Shares the plugin's ownership: its library stays loaded while the handle lives.
  return std::shared_ptr<Service>(std::move(owner), it->second.service);
}

void ServiceRegistry::withdraw(const LoadedPlugin* owner) {
  const std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    const auto previous = entry.previous_owner.lock();
    if (previous.get() == owner) {  // the upgrade took over and stays: forget the old one
      entry.previous_service = nullptr;
      entry.previous_owner.reset();
    }
    const auto current = entry.owner.lock();
    if (current && current.get() != owner) {
      ++it;
    } else if (previous && previous.get() != owner &&
               previous->state() == LoadedPlugin::State::running) {
      // An upgrade that did not start: the name goes back to the plugin still running.
      entry = {entry.previous_service, previous, nullptr, {}};
      ++it;
    } else {
      it = entries_.erase(it);
    }
  }
}

}  // namespace passerelle
