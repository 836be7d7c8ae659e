// A TLS connection: handshake, the request loop, close_notify. A connection idle for a while
// is parked: it keeps its TLS stream and its place in the tracker, but no coroutine, until its
// next request comes (or its idle timeout, or shutdown, ends it).
#include "passerelle/host.hpp"
#include "server/http_loop.hpp"
#include "server/tls_stream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/context.hpp>

namespace passerelle {

namespace {

// How long a connection waits for its next request in its coroutine before it is parked. A
// client under load sends its next request well within this, so that a busy connection keeps
// its coroutine; an idle one then costs its TLS state and little else (measured, dev build,
// 10,000 idle connections: the coroutine frames and pending operations of the request loop
// were about 4 KiB of the 18.3 KiB each held).
constexpr std::chrono::milliseconds kParkAfter{250};

// What a TLS connection holds between its coroutines; heap-allocated so that the socket the
// tracker's closer reaches through SessionState::socket stays where it is while parked.
struct TlsConnection {
  TlsConnection(boost::asio::ip::tcp::socket socket,
                std::shared_ptr<boost::asio::ssl::context> context, SessionEnv& e,
                std::shared_ptr<SessionState> s)
      : tls(std::move(context)),
        env(e),
        state(std::move(s)),
        stream(std::move(socket), tls->native_handle()) {
    state->socket = &stream.socket();
  }
  ~TlsConnection() { state->socket = nullptr; }  // before the stream goes
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  std::shared_ptr<boost::asio::ssl::context> tls;  // outlives the stream's SSL
  SessionEnv& env;
  std::shared_ptr<SessionState> state;
  TlsStream stream;
};

boost::asio::awaitable<void> serve_tls(std::unique_ptr<TlsConnection> connection,
                                       boost::system::error_code woken);

// Waits for the next request with no coroutine: one pending wait on the socket, and the
// stream's deadline for the rest of the idle timeout (which, like shutdown and the tracker's
// closer, cancels the wait).
void park(std::unique_ptr<TlsConnection> connection) {
  TlsConnection& c = *connection;  // its buffers went when it began to wait (async_ready)
  // What is left of the idle timeout, which began when the connection started waiting.
  const auto waited = std::chrono::steady_clock::now() - c.state->idle_since;
  const auto left =
      std::max(std::chrono::steady_clock::duration::zero(),
               std::chrono::steady_clock::duration(c.env.server.limits.idle_timeout) - waited);
  c.stream.expires_after(left, ExactAllocator<void>());
  auto woken = [connection = std::move(connection)](boost::system::error_code ec) mutable {
    auto executor = connection->stream.get_executor();
    boost::asio::co_spawn(executor, serve_tls(std::move(connection), ec), log_session_failure);
  };
  c.stream.socket().async_wait(
      boost::asio::ip::tcp::socket::wait_read,
      boost::asio::bind_allocator(ExactAllocator<void>(), std::move(woken)));
}

// The request loop, from a new connection or a parked one that was woken (`woken` set: it is
// to close), then the close.
boost::asio::awaitable<void> serve_tls(std::unique_ptr<TlsConnection> connection,
                                       boost::system::error_code woken) {
  TlsStream& stream = connection->stream;
  LoopEnd end = LoopEnd::quiet;
  if (!woken) {
    SessionEnv& env = connection->env;
    auto respond = [&env, executor = stream.get_executor()](IncomingRequest request) {
      return env.handler.start(std::move(request), executor);
    };
    end =
        co_await serve_http(stream, *connection->state, env, true, std::move(respond), kParkAfter);
    if (end == LoopEnd::parked) {
      park(std::move(connection));
      co_return;
    }
  }
  connection->state->idle->store(false, std::memory_order_relaxed);
  stream.expires_never();
  if (end == LoopEnd::aborted) {
    // No close_notify and a reset: the client sees the answer cut, not ended.
    boost::system::error_code ignored;
    stream.socket().set_option(boost::asio::socket_base::linger(true, 0), ignored);
    stream.socket().close(ignored);
    co_return;
  }
  stream.close_notify();
  boost::system::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  if (end == LoopEnd::refused) co_await linger(stream.socket());
}

}  // namespace

boost::asio::awaitable<void> run_https_session(boost::asio::ip::tcp::socket socket,
                                               std::shared_ptr<boost::asio::ssl::context> tls,
                                               SessionEnv& env,
                                               std::shared_ptr<SessionState> state) {
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  auto connection =
      std::make_unique<TlsConnection>(std::move(socket), std::move(tls), env, std::move(state));
  TlsStream& stream = connection->stream;

  stream.expires_after(env.server.limits.handshake_timeout);
  auto [ec] = co_await stream.async_handshake(as_tuple(use_awaitable));
  if (ec) {  // scanners, plain HTTP on the TLS port, timeouts: nothing to answer
    if (env.handshakes_failed) env.handshakes_failed->add(1);
    co_return;
  }
  if (env.handshakes) env.handshakes->add(1);

  const boost::system::error_code not_woken;  // named: no braces inside a co_await (g++ 12)
  co_await serve_tls(std::move(connection), not_woken);
}

}  // namespace passerelle
