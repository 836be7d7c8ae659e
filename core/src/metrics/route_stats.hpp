// What the dispatcher counts for one route: answers by status and a latency histogram with
// fixed buckets, all atomics, so that a request records itself without a lookup or a lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace passerelle {

/// Upper bounds of the latency buckets, in seconds (a last bucket, +Inf, follows). From half a
/// millisecond (a route answered from memory on loopback) up to the longest handler deadlines.
inline constexpr std::array<double, 15> kLatencyBounds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
inline constexpr std::size_t kLatencyBuckets = kLatencyBounds.size() + 1;

/// Observations per bucket (not cumulative); the last one is +Inf.
using BucketCounts = std::array<std::uint64_t, kLatencyBuckets>;

/// The bucket of a duration: the first whose bound is not below it.
std::size_t latency_bucket(std::chrono::nanoseconds took);

/// Quantile `q` (0..1) of what `counts` observed, read as Prometheus' histogram_quantile does:
/// linear within the bucket holding the rank, from 0 in the first one; the highest finite bound
/// when the rank falls in +Inf. Nothing when nothing was observed.
std::optional<double> estimate_quantile(const BucketCounts& counts, double q);

class LatencyHistogram {
 public:
  void observe(std::chrono::nanoseconds took) noexcept {
    buckets_[latency_bucket(took)].fetch_add(1, std::memory_order_relaxed);
    const auto ns = took.count() > 0 ? static_cast<std::uint64_t>(took.count()) : 0;
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }
  BucketCounts counts() const;
  double sum_seconds() const { return sum_ns_.load(std::memory_order_relaxed) / 1e9; }

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

/// The counters of one route, made once when the route table is built and kept for the
/// gateway's life (a rebuilt table finds the same ones: Prometheus counters never go back).
class RouteStats {
 public:
  static constexpr int kFirstStatus = 200;  // the dispatcher answers 200..599 only
  static constexpr int kLastStatus = 599;

  /// `group`: the plugin serving the route, or empty for the gateway's own routes.
  RouteStats(std::string group, std::string label)
      : group_(std::move(group)), label_(std::move(label)) {}
  RouteStats(const RouteStats&) = delete;
  RouteStats& operator=(const RouteStats&) = delete;

  void record(int status, std::chrono::nanoseconds took) noexcept {
    if (status < kFirstStatus || status > kLastStatus) status = 500;
    by_status_[status - kFirstStatus].fetch_add(1, std::memory_order_relaxed);
    latency_.observe(took);
  }

  const std::string& group() const { return group_; }
  const std::string& label() const { return label_; }  ///< "GET /api/x/{id}", or "unmatched"
  std::uint64_t answered(int status) const {
    return by_status_[status - kFirstStatus].load(std::memory_order_relaxed);
  }
  const LatencyHistogram& latency() const { return latency_; }

  /// Requests matched to this route and not answered yet (RouteEntered counts them).
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  void enter() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void leave() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  const std::string group_;
  const std::string label_;
  std::array<std::atomic<std::uint64_t>, kLastStatus - kFirstStatus + 1> by_status_{};
  LatencyHistogram latency_;
  std::atomic<std::int64_t> in_flight_{0};
};

/// A request counted in flight on its route from its routing until this is destroyed (its
/// answer, or its coroutine's end whatever the way).
class RouteEntered {
 public:
  RouteEntered() = default;
  explicit RouteEntered(RouteStats* stats) : stats_(stats) { stats_->enter(); }
  RouteEntered(RouteEntered&& other) noexcept : stats_(std::exchange(other.stats_, nullptr)) {}
  RouteEntered& operator=(RouteEntered&& other) noexcept {
    if (this != &other) {
      if (stats_) stats_->leave();
      stats_ = std::exchange(other.stats_, nullptr);
    }
    return *this;
  }
  RouteEntered(const RouteEntered&) = delete;
  RouteEntered& operator=(const RouteEntered&) = delete;
  ~RouteEntered() {
    if (stats_) stats_->leave();
  }

 private:
  RouteStats* stats_ = nullptr;
};

}  // namespace passerelle
