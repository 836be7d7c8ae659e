// Gives the heap's free memory back to the system once a load has gone. glibc keeps what a
// burst of connections freed in its arenas: measured after 1,000 TLS connections on
// /api/dashboard, 52 MB held by malloc for 2.6 MB in use, so resident memory stayed at the
// burst's peak until malloc_trim(0) took it back to 26 MB (README, "Performance notes").
#pragma once

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
  bool should_trim(std::size_t connections, std::size_t free_bytes) {
    const bool fell = previous_ && connections <= *previous_ / 2;
    previous_ = connections;
    return fell && free_bytes >= min_free_;
  }

 private:
  std::size_t min_free_;
  std::optional<std::size_t> previous_;
};

}  // namespace passerelle
