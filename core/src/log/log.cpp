// The log writer thread: lines are queued under a mutex and written to stderr in batches.
#include "log/log.hpp"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace passerelle::log {
namespace {

constexpr std::size_t kMaxQueued = 100'000;  // beyond this, lines are dropped and counted

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

  void push(std::string line) {
    {
      std::lock_guard lock(mutex_);
      if (queue_.size() >= kMaxQueued) {
        ++dropped_;
        return;
      }
      queue_.push_back(std::move(line));
    }
    cv_.notify_one();
  }

  void flush() {
    std::unique_lock lock(mutex_);
    flushed_cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      std::deque<std::string> batch;
      batch.swap(queue_);
      std::size_t dropped = dropped_;
      dropped_ = 0;
      writing_ = true;
      lock.unlock();
      std::string out;
      for (auto& line : batch) {
        out += line;
        out += '\n';
      }
      if (dropped)
        out +=
            "{\"level\":\"warn\",\"component\":\"log\",\"msg\":\"log lines dropped\",\"count\":" +
            std::to_string(dropped) + "}\n";
      std::fwrite(out.data(), 1, out.size(), stderr);
      std::fflush(stderr);
      lock.lock();
      writing_ = false;
      flushed_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable flushed_cv_;
  std::deque<std::string> queue_;
  std::size_t dropped_ = 0;
  bool stop_ = false;
  bool writing_ = false;
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
  writer().push(boost::json::serialize(line));
}

void flush() { writer().flush(); }

}  // namespace passerelle::log
