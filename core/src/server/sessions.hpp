// Entry points of the two kinds of connection; each lives in its own translation unit because
// a Beast session is the heaviest thing to compile.
#pragma once

#include "config/config.hpp"
#include "http/incoming.hpp"
#include "server/connection_tracker.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace boost::asio::ssl {
class context;
}

namespace passerelle {

/// What every session shares; outlives them all.
struct SessionEnv {
  const ServerConfig& server;
  RequestHandler& handler;
  ConnectionTracker& tracker;
  bool access_log = true;
  std::uint16_t https_port = 0;  // the bound port, for redirects
};

/// TLS handshake, then HTTP/1.1 keep-alive requests until the client leaves, a limit is hit
/// or shutdown begins.
boost::asio::awaitable<void> run_https_session(boost::asio::ip::tcp::socket socket,
                                               std::shared_ptr<boost::asio::ssl::context> tls,
                                               SessionEnv& env);

/// Plain HTTP: every request gets a 308 to the same target over HTTPS.
boost::asio::awaitable<void> run_redirect_session(boost::asio::ip::tcp::socket socket,
                                                  SessionEnv& env);

}  // namespace passerelle
