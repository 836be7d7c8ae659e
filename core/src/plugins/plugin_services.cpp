// Host services for plugins; sleep() is an Asio timer, so a request deadline cancels it.
#include "plugins/plugin_services.hpp"

#include "attachments/attachment_store.hpp"

#include "log/log.hpp"
#include "plugins/loaded_plugin.hpp"
#include "util/blocking_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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

namespace passerelle {

namespace {
// Beyond this many messages waiting, the plugin is told to read everything again instead.
constexpr std::size_t kMaxQueuedAnnouncements = 256;
}  // namespace

void PluginServices::announce(const std::string& message) {
  if (message.size() > kMaxAnnouncement)
    throw std::invalid_argument("announcement of " + std::to_string(message.size()) +
                                " bytes: at most " + std::to_string(kMaxAnnouncement));
  if (!announcer_) return;
  {
    // A plugin announcing in a loop would fill the store's pool and the other instances'
    // queues: past kAnnouncementsPerSecond, announcements are dropped (logged once a second).
    std::lock_guard lock(rate_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      if (dropped_ > 0)
        log::warn(
            "plugins", "announcements over the limit were dropped",
            {{"plugin", plugin_}, {"dropped", dropped_}, {"per_second", kAnnouncementsPerSecond}});
      window_start_ = now;
      sent_ = 0;
      dropped_ = 0;
    }
    if (sent_ >= kAnnouncementsPerSecond) {
      ++dropped_;
      return;
    }
    ++sent_;
  }
  announcer_(message);
}

void PluginServices::on_announcement(std::function<Task<void>(std::string)> handler) {
  std::lock_guard lock(announcements_mutex_);
  on_announcement_ = std::move(handler);
}

void PluginServices::deliver(std::string message, std::shared_ptr<LoadedPlugin> owner) {
  {
    std::lock_guard lock(announcements_mutex_);
    if (!on_announcement_ || !executor_) return;
    if (announcements_.size() >= kMaxQueuedAnnouncements) message = "*";  // too far behind
    // "*" (read everything again) covers whatever waits before it.
    if (message == "*") announcements_.clear();
    if (announcements_.empty() || announcements_.back() != message)  // once is enough
      announcements_.push_back(std::move(message));
    if (draining_) return;
    draining_ = true;
  }
  owner->enter();
  boost::asio::co_spawn(executor_, drain(std::move(owner)), boost::asio::detached);
}

Task<void> PluginServices::drain(std::shared_ptr<LoadedPlugin> owner) {
  for (;;) {
    std::string message;
    std::function<Task<void>(std::string)> handler;
    {
      std::lock_guard lock(announcements_mutex_);
      if (announcements_.empty() || owner->state() != LoadedPlugin::State::running) {
        announcements_.clear();
        draining_ = false;
        break;
      }
      message = std::move(announcements_.front());
      announcements_.pop_front();
      handler = on_announcement_;
    }
    try {
      co_await handler(std::move(message));
    } catch (const std::exception& e) {
      log::error("plugins", "plugin failed to handle an announcement",
                 {{"plugin", plugin_}, {"error", e.what()}});
    }
  }
  owner->leave();
}

AttachmentStore& PluginAttachments::store() {
  if (!store_) throw HttpError(503, "attachments_unavailable", "files are not available here");
  return *store_;
}

Task<std::optional<Attachment>> PluginAttachments::find(std::string id) {
  co_return co_await store().find(plugin_, std::move(id));
}

Task<Response> PluginAttachments::download(std::string id) {
  co_return co_await store().download(plugin_, std::move(id));
}

Task<void> PluginAttachments::remove(std::string id) {
  co_await store().remove(plugin_, std::move(id));
}

}  // namespace passerelle
