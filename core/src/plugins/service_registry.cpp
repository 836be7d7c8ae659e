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
  entries_[name] = {&service, owner};
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
    const auto current = it->second.owner.lock();
    if (!current || current.get() == owner)
      it = entries_.erase(it);
    else
      ++it;
  }
}

}  // namespace passerelle
