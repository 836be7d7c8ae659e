// The real passerelle binary, started on ephemeral loopback ports with throwaway certificates;
// its stderr (JSON-lines log) is collected for assertions.
#pragma once

#include "support/temp_dir.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace passerelle::test {

/// A child process whose stdout and stderr are collected by a thread of its own.
class ChildProcess {
 public:
  /// Starts args[0] (a path) with the rest as arguments and this process's environment.
  explicit ChildProcess(const std::vector<std::string>& args);
  ~ChildProcess();  // killed (SIGKILL) if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  /// Waits (bounded) until `done(output so far)` holds or the process closed its output;
  /// returns whether it holds.
  bool wait_until(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds timeout);
  /// Waits (bounded) until the output contains `text`.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout);
  std::string output() const;
  /// Sends `signo`; returns the exit code (128 + signal when killed), or -1 if the process
  /// did not exit within `timeout` (it is then killed).
  int stop(int signo, std::chrono::milliseconds timeout = std::chrono::seconds(15));

 private:
  int pid_ = -1;
  int fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string output_;
  bool eof_ = false;
  std::thread reader_;
};

class GatewayProcess {
 public:
  /// `extra_yaml` is appended to a base config (server on port 0, test certs, temp store).
  /// `server_yaml` replaces the default server section body lines (indented by 2).
  explicit GatewayProcess(const std::string& extra_yaml = "", const std::string& server_yaml = "");

  std::uint16_t https_port() const { return https_port_; }
  /// The config file the process runs with (admin commands can use it too).
  std::string config_path() const { return dir_.path() + "/passerelle.yaml"; }
  std::uint16_t http_port() const { return http_port_; }
  const TempDir& dir() const { return dir_; }
  int pid() const { return process_->pid(); }

  /// Waits (bounded) until a log line contains `text`.
  bool wait_for_log(const std::string& text,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return process_->wait_for(text, timeout);
  }
  /// Waits (bounded) until `text` has come `times` times in the log.
  bool wait_for_log_times(const std::string& text, std::size_t times,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return process_->wait_until(
        [&](const std::string& out) {
          std::size_t seen = 0;
          for (auto at = out.find(text); at != std::string::npos; at = out.find(text, at + 1))
            ++seen;
          return seen >= times;
        },
        timeout);
  }
  std::string log() const { return process_->output(); }

  /// Sends `signo`; returns the exit code, or -1 if the process did not exit within `timeout`.
  int stop(int signo, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return process_->stop(signo, timeout);
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t https_port_ = 0;
  std::uint16_t http_port_ = 0;
};

/// A port of 127.0.0.1 free now (the kernel's choice), for a server a test starts itself.
std::uint16_t free_port();

/// Runs the binary with arguments; returns exit code and combined output.
struct CommandResult {
  int exit_code;
  std::string output;
};
CommandResult run_passerelle(const std::vector<std::string>& args,
                             const std::string& stdin_text = "");

}  // namespace passerelle::test
