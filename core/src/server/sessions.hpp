// Entry points of the two kinds of connection; each lives in its own translation unit because
// a Beast session is the heaviest thing to compile.
#pragma once

#include "config/config.hpp"
#include "http/incoming.hpp"
#include "server/connection_tracker.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace passerelle {

/// What every session shares; outlives them all.
class Counter;

struct SessionEnv {
  const ServerConfig& server;
  RequestHandler& handler;
  ConnectionTracker& tracker;
  bool access_log = true;
  std::uint16_t https_port = 0;  // the bound port, for redirects
  // TLS handshakes done and failed (resolved once, counted per connection); null: not counted.
  Counter* handshakes = nullptr;
  Counter* handshakes_failed = nullptr;
};

/// One admitted connection as the tracker sees it; leaving the tracker when destroyed. The
/// session sets `socket` while it runs and `idle` while it waits between requests; both are
/// touched on the connection's own executor only (`idle` is read by the tracker too).
struct SessionState {
  SessionState(ConnectionTracker& t, std::string address)
      : tracker(t), remote(std::move(address)) {}
  ~SessionState() {
    if (id != 0) tracker.remove(id);
  }
  SessionState(const SessionState&) = delete;
  SessionState& operator=(const SessionState&) = delete;

  ConnectionTracker& tracker;
  std::uint64_t id = 0;    // 0 until admitted
  std::string remote;      // peer address, for logs and rate limits
  bool via_proxy = false;  // the peer is a trusted load balancer (server.trusted_proxies)
  std::shared_ptr<std::atomic<bool>> idle = std::make_shared<std::atomic<bool>>(false);
  /// Since when the connection waits for a request (zero while one is under way): its idle
  /// timeout runs from there, across parking.
  std::chrono::steady_clock::time_point idle_since{};
  boost::asio::ip::tcp::socket* socket = nullptr;
};

/// Logs why a session coroutine ended by an exception (the completion of its co_spawn).
void log_session_failure(std::exception_ptr error);

/// What a connection counts as against the per-address cap: its IPv4 address, or its IPv6 /64
/// (a host commonly holds a whole /64: a cap per IPv6 address would hold nothing).
std::string cap_key(const std::string& address);

/// Registers a new connection with the tracker, or nothing when its address or the server
/// is at the connection limit (idle connections are then asked to make room).
std::shared_ptr<SessionState> admit_connection(const std::vector<std::string>& trusted_proxies,
                                               ConnectionTracker& tracker,
                                               boost::asio::ip::tcp::socket& socket);

/// TLS handshake, then HTTP/1.1 keep-alive requests until the client leaves, a limit is hit
/// or shutdown begins.
boost::asio::awaitable<void> run_https_session(boost::asio::ip::tcp::socket socket,
                                               std::shared_ptr<boost::asio::ssl::context> tls,
                                               SessionEnv& env,
                                               std::shared_ptr<SessionState> state);

/// Plain HTTP: every request gets a 308 to the same target over HTTPS.
boost::asio::awaitable<void> run_redirect_session(boost::asio::ip::tcp::socket socket,
                                                  SessionEnv& env,
                                                  std::shared_ptr<SessionState> state);

}  // namespace passerelle
