// Bucket search and the quantile estimate of the latency histograms.
#include "metrics/route_stats.hpp"

namespace passerelle {
namespace {

// The bounds in nanoseconds, so that recording compares integers.
constexpr std::array<std::int64_t, kLatencyBounds.size()> bounds_ns() {
  std::array<std::int64_t, kLatencyBounds.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::int64_t>(kLatencyBounds[i] * 1e9 + 0.5);
  return out;
}
constexpr auto kBoundsNs = bounds_ns();

}  // namespace

std::size_t latency_bucket(std::chrono::nanoseconds took) {
  const std::int64_t ns = took.count();
  std::size_t i = 0;
  while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
  return i;
}

std::optional<double> estimate_quantile(const BucketCounts& counts, double q) {
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  if (total == 0) return std::nullopt;
  q = q < 0 ? 0 : q > 1 ? 1 : q;
  const double rank = q * static_cast<double>(total);
  std::uint64_t below = 0;
  for (std::size_t b = 0; b < counts.size(); ++b) {
    const std::uint64_t through = below + counts[b];
    if (counts[b] > 0 && static_cast<double>(through) >= rank) {
      if (b == kLatencyBounds.size()) return kLatencyBounds.back();  // +Inf: no upper bound
      const double low = b == 0 ? 0.0 : kLatencyBounds[b - 1];
      const double high = kLatencyBounds[b];
      return low +
             (high - low) * (rank - static_cast<double>(below)) / static_cast<double>(counts[b]);
    }
    below = through;
  }
  return kLatencyBounds.back();  // not reached: the last non-empty bucket holds the rank
}

BucketCounts LatencyHistogram::counts() const {
  BucketCounts out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

}  // namespace passerelle
