// The plugin's metrics, exported at /metrics with its name as prefix.
#pragma once

#include "passerelle/export.hpp"

#include <string>

namespace passerelle {

/// A monotonically increasing counter, exported at /metrics.
class PASSERELLE_SDK_API Counter {
 public:
  virtual ~Counter() = default;
  /// Adds `value` (>= 0).
  virtual void add(double value = 1) = 0;
};

/// Metrics registry; names are prefixed with `passerelle_<plugin>_`.
class PASSERELLE_SDK_API Metrics {
 public:
  virtual ~Metrics() = default;
  /// The counter of that name, created on first use; the reference lives as long as the host.
  virtual Counter& counter(const std::string& name, const std::string& help) = 0;
};

}  // namespace passerelle
