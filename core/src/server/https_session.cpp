// A TLS connection: handshake, the request loop, close_notify.
#include "server/http_loop.hpp"
#include "server/tls_stream.hpp"

#include <boost/asio/ssl/context.hpp>

namespace passerelle {

boost::asio::awaitable<void> run_https_session(boost::asio::ip::tcp::socket socket,
                                               std::shared_ptr<boost::asio::ssl::context> tls,
                                               SessionEnv& env,
                                               std::shared_ptr<SessionState> state) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  TlsStream stream(std::move(socket), tls->native_handle());
  TrackedSession tracked(std::move(state), stream.socket());

  stream.expires_after(env.server.limits.handshake_timeout);
  auto [ec] = co_await stream.async_handshake(as_tuple(use_awaitable));
  if (ec) co_return;  // scanners, plain HTTP on the TLS port, timeouts: nothing to answer

  auto respond = [&env](IncomingRequest request) { return env.handler.handle(std::move(request)); };
  const LoopEnd end = co_await serve_http(stream, tracked.state(), env, true, std::move(respond));

  stream.expires_never();
  stream.close_notify();
  boost::system::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  if (end == LoopEnd::refused) co_await linger(stream.socket());
}

}  // namespace passerelle
