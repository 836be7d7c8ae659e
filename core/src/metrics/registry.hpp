// Counters of the gateway and its plugins, rendered in the Prometheus text format at /metrics;
// the per-route request counters and latency histograms, and their last hour minute by minute.
#pragma once

#include "metrics/minute_history.hpp"
#include "metrics/route_stats.hpp"
#include "passerelle/host.hpp"

#include <atomic>
#include <functional>
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

  /// The counters of route `label` served by `group` (a plugin's name; empty: the gateway
  /// itself), made on first use and kept: resolved when a route table is built, never per
  /// request. The reference stays valid for the registry's life.
  RouteStats& route(const std::string& group, const std::string& label);

  /// Each group's totals now (the sum of its routes).
  std::map<std::string, GroupTotals> group_totals() const;

  /// Ends the minute starting at `minute` (epoch seconds) in the history.
  void close_minute(std::int64_t minute) { history_.close_minute(minute, group_totals()); }

  /// The last hour of `group`, the minute in progress at `now` last (see MinuteHistory).
  std::vector<MinutePoint> last_hour(const std::string& group, std::int64_t now) const;

  /// Prometheus exposition text.
  std::string render() const;

  /// Lines of gauges (`# TYPE … gauge` and their samples) written by `write` at each render,
  /// after the counters; returns an id for remove_gauges(). `write` must not call the registry.
  std::size_t add_gauges(std::function<void(std::ostream&)> write);
  void remove_gauges(std::size_t id);

 private:
  struct Family {
    std::string help;
    std::map<std::string, std::unique_ptr<AtomicCounter>> series;  // by label set
  };
  void render_routes(std::ostream& out) const;                        // mutex_ held
  std::map<std::size_t, std::function<void(std::ostream&)>> gauges_;  // mutex_
  std::size_t next_gauges_ = 0;
  std::map<std::string, GroupTotals> group_totals_locked() const;  // mutex_ held

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  // By label, then group; never erased (RouteStats are referenced by route tables).
  std::map<std::pair<std::string, std::string>, std::unique_ptr<RouteStats>> routes_;
  MinuteHistory history_;
};

/// The Metrics a plugin sees: names prefixed with passerelle_<plugin>_.
class PluginMetrics final : public Metrics {
 public:
  PluginMetrics(MetricsRegistry& registry, std::string plugin);
  Counter& counter(const std::string& name, const std::string& help) override;

 private:
  MetricsRegistry& registry_;
  std::string prefix_;
};

}  // namespace passerelle
