// Admission of accepted connections: the per-address and global caps, and the closer that
// shutdown and reclaiming use to end a connection on its own executor.
#include "server/sessions.hpp"

#include "auth/throttle.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace passerelle {

namespace {

std::string address_of(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  auto address = ep.address();
  // An IPv4 client on a dual-stack socket counts as that IPv4 address.
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  return address.to_string();
}

}  // namespace

std::string cap_key(const std::string& address) {
  // The networks the login throttle counts failures by, IPv4 always per address here: a /24
  // is commonly many unrelated clients behind one provider.
  return client_network(address, 32);
}

std::shared_ptr<SessionState> admit_connection(const std::vector<std::string>& trusted_proxies,
                                               ConnectionTracker& tracker,
                                               boost::asio::ip::tcp::socket& socket) {
  auto state = std::make_shared<SessionState>(tracker, address_of(socket));
  state->via_proxy = std::find(trusted_proxies.begin(), trusted_proxies.end(), state->remote) !=
                     trusted_proxies.end();
  auto close = [weak = std::weak_ptr<SessionState>(state),
                executor = socket.get_executor()](bool force) {
    boost::asio::post(executor, [weak, force] {
      const auto s = weak.lock();
      // shutdown() lasts: a wait that starts after this post ends at once too.
      if (!s || !s->socket || (!force && !s->idle->load(std::memory_order_relaxed))) return;
      boost::system::error_code ignored;
      s->socket->shutdown(force ? boost::asio::ip::tcp::socket::shutdown_both
                                : boost::asio::ip::tcp::socket::shutdown_receive,
                          ignored);
      s->socket->cancel(ignored);
    });
  };
  // A load balancer carries many clients: the cap per address would be theirs, all together.
  const auto id = tracker.add(
      {state->via_proxy ? std::string() : cap_key(state->remote), state->idle, std::move(close)});
  if (!id) return nullptr;
  state->id = *id;
  return state;
}

}  // namespace passerelle
