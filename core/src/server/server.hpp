// The gateway process: listeners, worker threads, signals (TERM/INT: graceful stop, HUP:
// reload certificates) and the order of start-up and shutdown.
#pragma once

#include "config/config.hpp"

#include <memory>

namespace passerelle {

class Server {
 public:
  explicit Server(Config config);
  ~Server();
  /// Serves until SIGTERM/SIGINT and a graceful drain; returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle
