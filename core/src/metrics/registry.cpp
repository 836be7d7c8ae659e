// Metric families kept in maps; the hot path touches only an atomic after the first lookup.
#include "metrics/registry.hpp"

#include <cctype>
#include <sstream>

namespace passerelle {

MetricsRegistry::AtomicCounter& MetricsRegistry::counter(const std::string& name,
                                                         const std::string& help,
                                                         const std::string& labels) {
  std::lock_guard lock(mutex_);
  Family& family = families_[name];
  if (family.help.empty()) family.help = help;
  auto& slot = family.series[labels];
  if (!slot) slot = std::make_unique<AtomicCounter>();
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::ostringstream out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    out << "# HELP " << name << ' ' << family.help << "\n# TYPE " << name << " counter\n";
    for (const auto& [labels, counter] : family.series) {
      out << name;
      if (!labels.empty()) out << '{' << labels << '}';
      out << ' ' << counter->value() << '\n';
    }
  }
  return out.str();
}

Counter& PluginMetrics::counter(const std::string& name, const std::string& help) {
  std::string clean;
  for (char c : name) clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return registry_.counter(prefix_ + clean, help);
}

}  // namespace passerelle
