// The last hour of traffic, minute by minute, per plugin (and for the gateway's own routes):
// requests, 5xx answers and the 99th percentile of latency, for the operators' page. Time is
// given by the caller (epoch seconds), so that tests need no clock.
#pragma once

#include "metrics/route_stats.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

/// Everything a group of routes answered since start-up.
struct GroupTotals {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  ///< 5xx answers
  BucketCounts latency{};
};

/// One minute of a group.
struct MinutePoint {
  std::int64_t minute = 0;  ///< its start, epoch seconds (a multiple of 60)
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::optional<double> p99_seconds;  ///< nothing when no request was answered
};

/// Totals grown from `before` to `after`, as one minute's point.
MinutePoint minute_between(std::int64_t minute, const GroupTotals& before,
                           const GroupTotals& after);

class MinuteHistory {
 public:
  static constexpr std::int64_t kMinute = 60;

  explicit MinuteHistory(std::size_t minutes = 60) : minutes_(minutes) {}

  /// Ends the minute that started at `minute`: each group's point is what its totals grew by
  /// since the previous call (since start-up for the first). Called once a minute.
  void close_minute(std::int64_t minute, const std::map<std::string, GroupTotals>& totals);

  /// The `minutes` minutes of `group` up to the one in progress at `now`, oldest first: the
  /// closed ones kept (zero where none was recorded: before start-up, or a missed tick), then
  /// the minute in progress, what `totals` grew by since the last close.
  std::vector<MinutePoint> series(const std::string& group, std::int64_t now,
                                  const GroupTotals& totals) const;

  static std::int64_t minute_of(std::int64_t seconds) {
    return seconds - ((seconds % kMinute) + kMinute) % kMinute;
  }

 private:
  std::size_t minutes_;
  mutable std::mutex mutex_;  // the ticking timer and the operators' page; never a request's
  // Per group, a ring indexed by minute number modulo its size; a slot holds its minute.
  std::map<std::string, std::vector<MinutePoint>> rings_;
  std::map<std::string, GroupTotals> closed_;  // the totals at the last close
};

}  // namespace passerelle
