// The access log, buffered as nginx's is: each I/O thread formats its lines into a fixed buffer
// of its own, with no lock and no allocation per line, and hands the buffer whole to the log
// writer when it is full or when the flush interval passes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace passerelle::access_log {

/// One request as logged. The views need only outlive the call that formats it.
struct Record {
  std::chrono::system_clock::time_point time;
  std::string_view request_id;
  std::string_view remote;
  std::string_view method;
  std::string_view target;  // as received: the query is cut and bytes >= 0x80 percent-encoded
  int status = 0;
  std::uint64_t bytes = 0;
  std::int64_t duration_us = 0;
  bool tls = false;
};

/// Appends `text` to `out` as the inside of a JSON string: quotes, backslashes and control
/// characters escaped, and each byte that is not part of valid UTF-8 replaced by U+FFFD, so
/// that every line parses. Returns false, with `out` unchanged, when it does not fit in `room`.
bool append_json_text(char*& out, char* end, std::string_view text);

/// Formats one line, '\n' included, into [out, end): the same fields, in the same order, as
/// the general log's lines ({"ts","level","component":"access","msg":"request",...}). Returns
/// the bytes written, or 0 when the line does not fit (nothing is then meant to be kept).
std::size_t format_line(char* out, char* end, const Record& record);

/// A line on its own (tests, and a line larger than a whole buffer).
std::string line(const Record& record);

/// A buffer of whole lines in the order they were added. `sink` receives the lines written so
/// far, as one string, when the next line does not fit or on flush(); it returns an emptied
/// string to reuse (or an empty one) so that a buffer is not allocated for each hand-off.
class Buffer {
 public:
  using Sink = std::function<std::string(std::string lines)>;

  Buffer(std::size_t capacity, Sink sink);
  ~Buffer();  // flushes
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void append(const Record& record);
  /// Hands what the buffer holds to the sink, if anything.
  void flush();
  std::size_t pending_bytes() const { return used_; }
  std::size_t capacity() const { return capacity_; }

 private:
  void take_storage(std::string spare);

  std::size_t capacity_;
  Sink sink_;
  std::string storage_;  // sized to capacity_; [0, used_) holds whole lines
  std::size_t used_ = 0;
};

/// The buffer size of each I/O thread's access log; call before the threads log.
void configure(std::size_t buffer_bytes);

/// Adds a line to this thread's buffer (made on first use, handed to the log writer).
void record(const Record& record);

/// Hands this thread's buffered lines to the log writer: on the flush timer of the thread and
/// when the thread stops serving. A thread's buffer is flushed when the thread ends, too.
void flush_thread();

}  // namespace passerelle::access_log
