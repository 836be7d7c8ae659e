// A TLS connection: handshake, the request loop, close_notify.
#include "server/http_loop.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl.hpp>

namespace passerelle {

boost::asio::awaitable<void> run_https_session(boost::asio::ip::tcp::socket socket,
                                               std::shared_ptr<boost::asio::ssl::context> tls,
                                               SessionEnv& env) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  const std::string remote = peer_address(socket);
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  auto& tcp = beast::get_lowest_layer(stream);
  TrackedSession tracked(env, stream.get_executor(), tcp.socket());

  tcp.expires_after(env.server.limits.handshake_timeout);
  auto [ec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server,
                                              as_tuple(use_awaitable));
  if (ec) co_return;  // scanners, plain HTTP on the TLS port, timeouts: nothing to answer

  co_await serve_http(stream, tracked.state(), env, true, remote,
                      [&env](IncomingRequest request) { return env.handler.handle(std::move(request)); });

  // Best effort close_notify; a peer that already left gives stream_truncated, which is fine.
  tcp.expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(as_tuple(use_awaitable));
}

}  // namespace passerelle
