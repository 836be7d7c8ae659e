// The real passerelle binary, started on ephemeral loopback ports with throwaway certificates;
// its stderr (JSON-lines log) is collected for assertions.
#pragma once

#include "support/temp_dir.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace passerelle::test {

class GatewayProcess {
 public:
  /// `extra_yaml` is appended to a base config (server on port 0, test certs, temp store).
  /// `server_yaml` replaces the default server section body lines (indented by 2).
  explicit GatewayProcess(const std::string& extra_yaml = "", const std::string& server_yaml = "");
  ~GatewayProcess();

  std::uint16_t https_port() const { return https_port_; }
  /// The config file the process runs with (admin commands can use it too).
  std::string config_path() const { return dir_.path() + "/passerelle.yaml"; }
  std::uint16_t http_port() const { return http_port_; }
  const TempDir& dir() const { return dir_; }
  int pid() const { return pid_; }

  /// Waits (bounded) until a log line contains `text`.
  bool wait_for_log(const std::string& text,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string log() const;

  /// Sends `signo`; returns the exit code, or -1 if the process did not exit within `timeout`.
  int stop(int signo, std::chrono::milliseconds timeout = std::chrono::seconds(15));

 private:
  TempDir dir_;
  int pid_ = -1;
  int stderr_fd_ = -1;
  std::uint16_t https_port_ = 0;
  std::uint16_t http_port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
  std::thread reader_;
};

/// Runs the binary with arguments; returns exit code and combined output.
struct CommandResult {
  int exit_code;
  std::string output;
};
CommandResult run_passerelle(const std::vector<std::string>& args,
                             const std::string& stdin_text = "");

}  // namespace passerelle::test
