// The log writer thread: lines and access-log buffers are queued under a mutex and written to
// stderr in batches, one writev(2) per batch.
#include "log/log.hpp"

#include <boost/json/serialize.hpp>

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace passerelle::log {
namespace {

// Beyond this many bytes waiting, lines are dropped and counted: a stalled stderr must not
// grow the process without bound.
constexpr std::size_t kMaxQueuedBytes = 64 * 1024 * 1024;
// Emptied access-log buffers kept for reuse: about two per I/O thread.
constexpr std::size_t kMaxSpareBuffers = 16;

// Writes every byte of `parts` to stderr, in order: one writev(2) unless the kernel takes less.
void write_all(std::vector<iovec>& parts) {
  std::size_t first = 0;
  while (first < parts.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(parts.size() - first, IOV_MAX));
    const ssize_t n = ::writev(STDERR_FILENO, parts.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    auto left = static_cast<std::size_t>(n);
    while (first < parts.size() && left >= parts[first].iov_len) left -= parts[first++].iov_len;
    if (left > 0) {
      parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + left;
      parts[first].iov_len -= left;
    }
  }
}

class Writer {
 public:
  Writer() : thread_([this] { run(); }) {}
  ~Writer() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  // `bytes` is whole lines, each ending in '\n'. A reusable buffer's storage comes back, once
  // written, to a later caller: for one, an emptied buffer (or an empty string) is returned.
  std::string push(std::string bytes, bool reusable) {
    std::string spare;
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (reusable && !spare_.empty()) {
        spare = std::move(spare_.back());
        spare_.pop_back();
      }
      if (queued_bytes_ + bytes.size() > kMaxQueuedBytes) {
        dropped_ += static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
        return spare;
      }
      queued_bytes_ += bytes.size();
      queue_.push_back({std::move(bytes), reusable});
      // Only an idle writer needs waking: a busy one takes the whole queue on its next turn.
      // This spares a futex wake-up (and the context switch after it) per line.
      wake = idle_;
      idle_ = false;
    }
    if (wake) cv_.notify_one();
    return spare;
  }

  void flush() {
    std::unique_lock lock(mutex_);
    flushed_cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
  }

 private:
  struct Item {
    std::string bytes;
    bool reusable;
  };

  void run() {
    std::unique_lock lock(mutex_);
    std::vector<iovec> parts;
    for (;;) {
      while (queue_.empty() && !stop_) {
        idle_ = true;
        cv_.wait(lock);
      }
      idle_ = false;
      if (queue_.empty() && stop_) return;
      std::deque<Item> batch;
      batch.swap(queue_);
      queued_bytes_ = 0;
      const std::size_t dropped = dropped_;
      dropped_ = 0;
      writing_ = true;
      lock.unlock();

      std::string notice;
      if (dropped)
        notice =
            "{\"level\":\"warn\",\"component\":\"log\",\"msg\":\"log lines dropped\","
            "\"count\":" +
            std::to_string(dropped) + "}\n";
      parts.clear();
      for (auto& item : batch) parts.push_back({item.bytes.data(), item.bytes.size()});
      if (!notice.empty()) parts.push_back({notice.data(), notice.size()});
      write_all(parts);

      lock.lock();
      for (auto& item : batch) {
        if (!item.reusable || spare_.size() >= kMaxSpareBuffers) continue;
        item.bytes.clear();
        spare_.push_back(std::move(item.bytes));
      }
      writing_ = false;
      flushed_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable flushed_cv_;
  std::deque<Item> queue_;
  std::vector<std::string> spare_;
  std::size_t queued_bytes_ = 0;
  std::size_t dropped_ = 0;
  bool stop_ = false;
  bool writing_ = false;
  bool idle_ = false;  // the writer waits for work: a push must wake it
  std::thread thread_;
};

std::atomic<int> g_level{static_cast<int>(Level::info)};

Writer& writer() {
  static Writer w;
  return w;
}

const char* name_of(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

Level level_from_string(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "warn") return Level::warn;
  if (name == "error") return Level::error;
  return Level::info;
}

void set_level(Level level) { g_level = static_cast<int>(level); }

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view component, std::string_view message,
           boost::json::object fields) {
  if (!enabled(level)) return;
  boost::json::object line;
  line["ts"] = timestamp();
  line["level"] = name_of(level);
  line["component"] = component;
  line["msg"] = message;
  for (auto& kv : fields) line[kv.key()] = std::move(kv.value());
  std::string text = boost::json::serialize(line);
  text += '\n';
  writer().push(std::move(text), false);
}

std::string hand_off(std::string lines) { return writer().push(std::move(lines), true); }

void flush() { writer().flush(); }

}  // namespace passerelle::log
