// Minute points as differences of running totals; p99 from the difference of the buckets.
#include "metrics/minute_history.hpp"

namespace passerelle {
namespace {

std::uint64_t grown(std::uint64_t before, std::uint64_t after) {
  return after > before ? after - before : 0;
}

}  // namespace

MinutePoint minute_between(std::int64_t minute, const GroupTotals& before,
                           const GroupTotals& after) {
  MinutePoint p;
  p.minute = minute;
  p.requests = grown(before.requests, after.requests);
  p.errors = grown(before.errors, after.errors);
  BucketCounts latency{};
  for (std::size_t i = 0; i < latency.size(); ++i)
    latency[i] = grown(before.latency[i], after.latency[i]);
  p.p99_seconds = estimate_quantile(latency, 0.99);
  return p;
}

void MinuteHistory::close_minute(std::int64_t minute,
                                 const std::map<std::string, GroupTotals>& totals) {
  minute = minute_of(minute);
  const std::size_t slot = static_cast<std::size_t>(minute / kMinute) % minutes_;
  std::lock_guard lock(mutex_);
  for (const auto& [group, now] : totals) {
    auto& ring = rings_[group];
    if (ring.empty()) ring.resize(minutes_);
    ring[slot] = minute_between(minute, closed_[group], now);
    closed_[group] = now;
  }
}

std::vector<MinutePoint> MinuteHistory::series(const std::string& group, std::int64_t now,
                                               const GroupTotals& totals) const {
  const std::int64_t current = minute_of(now);
  std::vector<MinutePoint> out;
  out.reserve(minutes_);
  std::lock_guard lock(mutex_);
  const auto ring = rings_.find(group);
  for (std::size_t back = minutes_ - 1; back >= 1; --back) {
    const std::int64_t minute = current - static_cast<std::int64_t>(back) * kMinute;
    MinutePoint p;
    p.minute = minute;
    if (ring != rings_.end()) {
      const auto& kept = ring->second[static_cast<std::size_t>(minute / kMinute) % minutes_];
      if (kept.minute == minute) p = kept;
    }
    out.push_back(p);
  }
  const auto closed = closed_.find(group);
  out.push_back(
      minute_between(current, closed == closed_.end() ? GroupTotals{} : closed->second, totals));
  return out;
}

}  // namespace passerelle
