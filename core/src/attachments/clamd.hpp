// A clamd client for one file at a time: the INSTREAM command over a Unix socket or TCP, with
// timeouts. Blocking: call it from a blocking pool, never from an I/O thread.
#pragma once

#include <chrono>
#include <string>

namespace passerelle {

struct ScanVerdict {
  bool clean = true;
  std::string signature;  // what clamd found, when not clean ("Eicar-Test-Signature")
};

/// Sends the file at `path` to clamd at `address` ("/run/clamav/clamd.ctl", "unix:/…" or
/// "host:port"). Throws std::runtime_error when clamd cannot be reached, times out or answers
/// an error (the caller refuses the file: a file that was not scanned is not accepted).
ScanVerdict clamd_scan(const std::string& address, const std::string& path,
                       std::chrono::milliseconds timeout);

}  // namespace passerelle
