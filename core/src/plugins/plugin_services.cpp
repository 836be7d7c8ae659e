// Host services for plugins; sleep() is an Asio timer, so a request deadline cancels it.
#include "plugins/plugin_services.hpp"

#include "log/log.hpp"
#include "util/blocking_pool.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace passerelle {

void PluginLogger::log(Level level, std::string_view message) {
  log::write(static_cast<log::Level>(static_cast<int>(level)), component_, message);
}

Task<void> PluginServices::sleep(std::chrono::milliseconds duration) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, duration);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

}  // namespace passerelle

namespace passerelle {

Task<void> PluginServices::offload(std::function<void()> work) {
  auto job = [w = std::move(work)] {
    w();
    return 0;
  };
  co_await blocking_.run(std::move(job));
}

std::string PluginServices::identity_token(const Identity& identity, const std::string& audience) {
  if (!tokens_) throw std::runtime_error("identity tokens are not available here");
  return tokens_->mint(identity, audience);
}

}  // namespace passerelle
