// Gives the heap's free memory back to the system once a load has gone. glibc keeps what a
// burst of connections freed in its arenas: measured after 1,000 TLS connections on
// /api/dashboard, 52 MB held by malloc for 2.6 MB in use, so resident memory stayed at the
// burst's peak until malloc_trim(0) took it back to 26 MB (README, "Performance notes").
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace passerelle {

/// What malloc holds: bytes in use by the program, and bytes free inside its arenas.
struct HeapFigures {
  std::size_t in_use = 0;
  std::size_t free = 0;
};

/// Asks glibc (mallinfo2): takes each arena's lock in turn, so call it off the I/O threads.
HeapFigures heap_figures();

/// Returns the free pages of every arena to the system (malloc_trim(0)); same caveat.
void trim_heap();

/// When to trim: the open connections have fallen to half (or less) of what they were at the
/// previous check, which is when a burst has ended and its buffers were freed, and the heap
/// holds at least `min_free` free bytes. Never under a steady load, whose free memory is
/// reused at once; never twice for nothing, since a trim leaves little free.
class HeapTrimPolicy {
 public:
  explicit HeapTrimPolicy(std::size_t min_free) : min_free_(min_free) {}

  /// Called at each check with the connections open now and the heap's free bytes.
  /// `burst_ended`: the check was brought forward by a BurstEndDetector, which has already
  /// seen the connections fall by half since their peak (the previous check may have come
  /// before that peak, in a pause between two bursts).
  bool should_trim(std::size_t connections, std::size_t free_bytes, bool burst_ended = false) {
    const bool fell = burst_ended || (previous_ && connections <= *previous_ / 2);
    previous_ = connections;
    return fell && free_bytes >= min_free_;
  }

 private:
  std::size_t min_free_;
  std::optional<std::size_t> previous_;
};

/// Notices the end of a burst of connections as it happens, so that the heap is trimmed then
/// rather than at the next periodic check (which, between bursts a few seconds apart, often
/// comes too late or in the middle of the next one). Fed by the connection tracker on every
/// open and close; fires when the open connections have fallen to half (or less) of their peak
/// since it last fired, that peak was at least `min_peak`, and it last fired at least `min_gap`
/// ago. A steady load, whose count moves little, never makes it fire.
class BurstEndDetector {
 public:
  using Clock = std::chrono::steady_clock;

  BurstEndDetector(std::size_t min_peak, Clock::duration min_gap)
      : min_peak_(min_peak), min_gap_(min_gap) {}

  /// A connection opened; `count` are open now.
  void opened(std::size_t count) {
    if (count > peak_) peak_ = count;
  }

  /// A connection closed; `count` are open now. True when a burst has just ended. `now()` is
  /// read only then, so that a close costs two comparisons.
  template <class Now>
  bool closed(std::size_t count, Now&& now) {
    if (peak_ < min_peak_ || count > peak_ / 2) return false;
    const Clock::time_point t = now();
    if (last_ && t - *last_ < min_gap_) return false;  // rate-limited: a later close may fire
    last_ = t;
    peak_ = count;  // the next burst is measured from here
    return true;
  }

 private:
  std::size_t min_peak_;
  Clock::duration min_gap_;
  std::size_t peak_ = 0;
  std::optional<Clock::time_point> last_;
};

}  // namespace passerelle
