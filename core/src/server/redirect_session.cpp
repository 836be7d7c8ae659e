// Plain HTTP: the same limits as HTTPS, and every request answered 308 to https.
#include "server/http_loop.hpp"

namespace passerelle {

namespace {

// Host header reduced to a host name we are willing to echo in a Location header.
std::string redirect_host(const IncomingRequest& in, const SessionEnv& env) {
  if (!env.server.public_host.empty()) return env.server.public_host;
  const std::string* host = in.header("host");
  if (!host || host->empty()) return {};
  std::string name = *host;
  if (name.front() == '[') {
    const auto close = name.find(']');
    if (close == std::string::npos) return {};
    name = name.substr(0, close + 1);
  } else {
    name = name.substr(0, name.find(':'));
  }
  const bool ok = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '[' || c == ']' || c == ':';
  });
  return ok ? name : std::string();
}

}  // namespace

boost::asio::awaitable<void> run_redirect_session(boost::asio::ip::tcp::socket socket,
                                                  SessionEnv& env,
                                                  std::shared_ptr<SessionState> state) {
  beast::tcp_stream stream(std::move(socket));
  TrackedSession tracked(std::move(state), stream.socket());
  // Named before the co_await: g++ 12 mishandles a lambda written inside a co_await expression.
  auto respond = [&env](IncomingRequest in) -> Handled {
    const std::string host = redirect_host(in, env);
    if (host.empty())
      return {error_response(400, "bad_request", "missing or invalid Host header", in.request_id)};
    if (in.target.empty() || in.target[0] != '/')
      return {error_response(400, "bad_request", "malformed request target", in.request_id)};
    std::string location = "https://" + host;
    if (env.https_port != 443) location += ":" + std::to_string(env.https_port);
    location += in.target;
    Response r = Response::text("Moved to " + location + "\n", 308);
    r.headers.emplace_back("Location", location);
    return {std::move(r)};
  };
  const LoopEnd end = co_await serve_http(stream, tracked.state(), env, false, std::move(respond));
  boost::system::error_code ec;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  if (end == LoopEnd::refused) co_await linger(stream.socket());
}

}  // namespace passerelle
