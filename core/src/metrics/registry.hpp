// Counters of the gateway and its plugins, rendered in the Prometheus text format at /metrics.
#pragma once

#include "passerelle/host.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace passerelle {

class MetricsRegistry {
 public:
  class AtomicCounter final : public Counter {
   public:
    void add(double value) override {
      if (value > 0) value_.fetch_add(value, std::memory_order_relaxed);
    }
    double value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<double> value_{0};
  };

  /// The counter `name` with labels such as `plugin="hello",status="200"` (may be empty).
  AtomicCounter& counter(const std::string& name, const std::string& help,
                         const std::string& labels = "");

  /// Prometheus exposition text.
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::map<std::string, std::unique_ptr<AtomicCounter>> series;  // by label set
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

/// The Metrics a plugin sees: names prefixed with passerelle_<plugin>_.
class PluginMetrics final : public Metrics {
 public:
  PluginMetrics(MetricsRegistry& registry, std::string plugin)
      : registry_(registry), prefix_("passerelle_" + plugin + "_") {}
  Counter& counter(const std::string& name, const std::string& help) override;

 private:
  MetricsRegistry& registry_;
  std::string prefix_;
};

}  // namespace passerelle
