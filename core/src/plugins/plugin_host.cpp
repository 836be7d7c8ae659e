// Plugin lifecycle: load (checks) -> migrate -> start -> publish routes -> drain -> stop.
#include "plugins/plugin_host.hpp"

#include "auth/roles.hpp"
#include "config/yaml_section.hpp"
#include "http/deadline_call.hpp"
#include "log/log.hpp"
#include "plugins/plugin_config.hpp"
#include "plugins/plugin_services.hpp"
#include "proxy/proxy_plugin.hpp"
#include "store/core_schema.hpp"
#include "store/sqlite_store.hpp"
#include "store/table_guard.hpp"
#include "territories/territory_index.hpp"
#include "util/blocking_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

namespace passerelle {

namespace {
const TerritoryIndex kNoTerritories;  // for hosts without territories (tools, some tests)

std::string check_route(const Route& route, const std::string& plugin) {
  const std::string prefix = "/api/" + plugin;
  if (route.path != prefix && route.path.rfind(prefix + "/", 0) != 0)
    return "route " + route.path + " must be under " + prefix + "/";
  for (const auto& role : route.roles)
    if (role != "*" && !is_known_role(role))
      return "route " + route.path + " names an unknown role \"" + role + "\"";
  if (!route.handler) return "route " + route.path + " has no handler";
  if (route.uploads && route.method != "POST" && route.method != "PUT")
    return "route " + route.path + " uploads: it must be a POST or a PUT";
  if (route.uploads && route.roles.empty())
    return "route " + route.path + " uploads: it must require a role (no anonymous uploads)";
  return {};
}
}  // namespace

PluginHost::PluginHost(Store& store, HttpClient& http, MetricsRegistry& metrics,
                       std::chrono::milliseconds default_timeout, const IdentityTokens* tokens,
                       const Territories* territories)
    : store_(store),
      http_(http),
      metrics_(metrics),
      default_timeout_(default_timeout),
      tokens_(tokens),
      territories_(territories),
      blocking_(std::make_unique<BlockingPool>(2)),
      mailer_(std::make_unique<SmtpMailer>(MailConfig{}, std::string(), *blocking_)) {
  table_.store(std::make_shared<const RouteTable>());
  gauges_ = metrics_.add_gauges([this](std::ostream& out) {
    out << "# HELP passerelle_plugin_in_flight Requests and widget calls a plugin serves now\n"
           "# TYPE passerelle_plugin_in_flight gauge\n";
    for (const auto& plugin : table()->plugins)
      out << "passerelle_plugin_in_flight{plugin=\"" << plugin->info().name << "\"} "
          << plugin->in_flight.load() << '\n';
    out << "# HELP passerelle_plugins_draining Plugins unrouted and finishing requests\n"
           "# TYPE passerelle_plugins_draining gauge\npasserelle_plugins_draining "
        << retiring().size() << '\n';
  });
}

PluginHost::~PluginHost() {
  metrics_.remove_gauges(gauges_);
  alive_.reset();
  // A plugin still draining holds its own callback (and through it, itself): let both go.
  for (const auto& plugin : retiring()) plugin->when_drained(nullptr);
}

void PluginHost::join() { blocking_->join(); }

std::string PluginHost::refusal(const LoadedPlugin& plugin, const PluginConfig& pc) const {
  const std::string& name = plugin.info().name;
  if (name != pc.name)
    return "plugin library " + pc.library + " is named \"" + name + "\", not \"" + pc.name + "\"";
  if (auto table = core_table_reached(name); !table.empty())
    return "plugin \"" + name + "\" cannot be loaded: its tables (" + table_prefix(name) +
           "*) would include the core's table " + table + "; rename the plugin";
  for (const auto& other : plugins_) {
    const std::string& other_name = other.plugin->info().name;
    if (other_name == name)
      return "plugin library " + pc.library + ": plugin \"" + name + "\" is already loaded from " +
             other.plugin->path();
    // Each plugin reaches the tables that start with its prefix: no prefix may hold another.
    const std::string mine = table_prefix(name), theirs = table_prefix(other_name);
    if (mine.rfind(theirs, 0) == 0 || theirs.rfind(mine, 0) == 0)
      return "plugin \"" + name + "\" cannot run beside plugin \"" + other_name +
             "\": their tables (" + mine + "*, " + theirs + "*) would overlap";
  }
  return {};
}

namespace {
// The plugin of an entry: its library loaded, or the gateway's proxy. Blocking (dlopen).
std::shared_ptr<LoadedPlugin> load_entry(const PluginConfig& pc) {
  if (pc.kind == "proxy") return LoadedPlugin::builtin(make_proxy_plugin(pc.name), "proxy");
  return LoadedPlugin::load(pc.library);
}
}  // namespace

void PluginHost::load_all(const Config& config) {
  for (const auto& pc : config.plugins) {
    std::shared_ptr<LoadedPlugin> plugin;
    try {
      plugin = load_entry(pc);
    } catch (const PluginError& e) {
      fail_at(config.file, pc.position, e.what());
    }
    if (auto why = refusal(*plugin, pc); !why.empty()) fail_at(config.file, pc.position, why);
    auto settings = validate_plugin_config(pc.config, pc.position, config.file,
                                           plugin->plugin().config_schema());
    plugin->max_concurrent = pc.max_concurrent;
    plugins_.push_back({std::move(plugin), pc, std::move(settings)});
  }
  publish();
}

Task<void> PluginHost::start_one(Pending& p) {
  LoadedPlugin& lp = *p.plugin;
  const std::string name = lp.info().name;
  bool started = false;
  std::string failure;
  try {
    // Migrations and statements alike reach only the plugin's own tables.
    auto database = store_.for_plugin(name);
    const int applied = co_await database->migrate(lp.plugin().migrations());
    const auto executor = co_await boost::asio::this_coro::executor;
    PluginServices::Announcer announcer;
    if (relay_)
      announcer = [relay = relay_, name](const std::string& message) { relay(name, message); };
    lp.services = std::make_unique<PluginServices>(
        name, p.settings, std::move(database), http_, metrics_, tokens_,
        territories_ ? *territories_ : kNoTerritories, *blocking_, *mailer_, attachments_,
        services_, p.plugin, std::move(announcer), executor);
    co_await lp.plugin().start(*lp.services);
    started = true;
    lp.routes = lp.plugin().routes();
    for (auto& route : lp.routes) route.path = route_path(name, route.path);
    for (const auto& route : lp.routes)
      if (auto error = check_route(route, name); !error.empty()) throw std::runtime_error(error);
    lp.set_state(LoadedPlugin::State::running);
    metrics_
        .counter("passerelle_plugin_starts_total",
                 "Plugins started (at start-up, added or upgraded)", "plugin=\"" + name + "\"")
        .add(1);
    log::info("plugins", "plugin started",
              {{"plugin", name},
               {"version", lp.info().version},
               {"migrations_applied", applied},
               {"routes", lp.routes.size()}});
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (failure.empty()) co_return;
  // Started, then refused (its routes): stopped before it goes, so that nothing it began
  // outlives it.
  if (started) co_await stop_plugin(p.plugin);
  lp.routes.clear();
  services_.withdraw(&lp);
  lp.set_failure(failure);
  metrics_
      .counter("passerelle_plugin_failures_total", "Plugins that failed to start",
               "plugin=\"" + name + "\"")
      .add(1);
  log::error("plugins", "plugin failed to start", {{"plugin", name}, {"error", failure}});
}

Task<void> PluginHost::start_all() {
  AsyncMutex::Lock lock = co_await admin_.lock();
  for (auto& p : plugins_) co_await start_one(p);
  for (const auto& p : plugins_)
    if (p.config.required && p.plugin->state() != LoadedPlugin::State::running)
      failed_required_.push_back(p.plugin->info().name);
  publish();
}

std::vector<std::string> PluginHost::failed_required() const { return failed_required_; }

void PluginHost::refuse_when_stopping() const {
  if (stopping_) throw HttpError(503, "stopping", "the gateway is stopping");
}

void PluginHost::publish() {
  // Ready: every plugin of the list running (and, at start-up, start_all done: it publishes).
  ready_ = std::all_of(plugins_.begin(), plugins_.end(), [](const Pending& p) {
    return p.plugin->state() == LoadedPlugin::State::running;
  });
  auto table = std::make_shared<RouteTable>();
  for (auto& p : plugins_) {
    table->plugins.push_back(p.plugin);
    if (p.plugin->state() != LoadedPlugin::State::running) continue;
    for (const auto& route : p.plugin->routes) {
      auto timeout = p.config.timeout.count() ? p.config.timeout : default_timeout_;
      if (auto it = p.config.route_timeouts.find(route.method + " " + route.path);
          it != p.config.route_timeouts.end())
        timeout = it->second;
      std::string error;
      if (!table->router.add(route.method, route.path, table->targets.size(), error)) {
        log::error("plugins", "route refused",
                   {{"plugin", p.plugin->info().name}, {"error", error}});
        continue;
      }
      table->targets.push_back({p.plugin, &route, timeout});
    }
  }
  table_.store(std::move(table));
}

Task<void> PluginHost::stop_all(std::chrono::milliseconds grace) {
  AsyncMutex::Lock lock = co_await admin_.lock();
  stopping_ = true;
  ready_ = false;
  table_.store(std::make_shared<const RouteTable>());
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& p : plugins_) {
    const auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()),
                               std::chrono::milliseconds(0));
    co_await drain(p.plugin, left);
    if (p.plugin->state() != LoadedPlugin::State::running) continue;
    services_.withdraw(p.plugin.get());  // no new caller reaches it
    co_await stop_plugin(p.plugin);
    p.plugin->set_state(LoadedPlugin::State::stopped);
  }
  // The libraries stay loaded until the last request that holds one ends.
  plugins_.clear();
}

void PluginHost::set_relay(
    std::function<void(const std::string& plugin, const std::string& message)> send) {
  relay_ = std::move(send);
}

void PluginHost::set_attachments(AttachmentStore* attachments) { attachments_ = attachments; }

void PluginHost::set_mail(const MailConfig& mail, const std::string& ca_file) {
  mailer_ = std::make_unique<SmtpMailer>(mail, ca_file, *blocking_);
}

void PluginHost::deliver(const std::string& plugin, const std::string& message) {
  // The published table: safe from any thread, and it holds every plugin that may run.
  for (const auto& p : table()->plugins)
    if ((message == "*" || p->info().name == plugin) &&
        p->state() == LoadedPlugin::State::running && p->services)
      p->services->deliver(message, p);
}

Task<bool> PluginHost::drain(std::shared_ptr<LoadedPlugin> plugin,
                             std::chrono::milliseconds grace) {
  // The last request to leave says so and cancels the timer: no polling. What it says is kept
  // apart from the timer's outcome: a cancellation from elsewhere is not a drain.
  auto executor = co_await boost::asio::this_coro::executor;
  auto timer = std::make_shared<boost::asio::steady_timer>(executor, grace);
  auto drained = std::make_shared<std::atomic<bool>>(false);
  plugin->when_drained([timer, drained, executor] {
    drained->store(true);
    boost::asio::post(executor, [timer] { timer->cancel(); });
  });
  co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (drained->load()) co_return true;
  plugin->when_drained(nullptr);
  co_return plugin->in_flight.load() == 0;
}

namespace {
Task<bool> stop_of(std::shared_ptr<LoadedPlugin> plugin) {
  co_await plugin->plugin().stop();
  co_return true;
}
}  // namespace

Task<void> PluginHost::stop_plugin(std::shared_ptr<LoadedPlugin> plugin) {
  // Raced against stop_timeout_: a stop() that hangs is left to run (holding its library), and
  // the runtime controls and the shutdown go on.
  const auto executor = co_await boost::asio::this_coro::executor;
  Task<bool> stopping = stop_of(plugin);
  auto call = DeadlineCall<bool, std::shared_ptr<LoadedPlugin>>::start(
      executor, std::move(stopping), stop_timeout_, plugin);
  CallOutcome<bool> outcome;
  if (call->done())
    outcome = call->take();
  else
    outcome = co_await call->result();
  const std::string& name = plugin->info().name;
  if (outcome.timed_out) {
    log::error("plugins", "plugin's stop() did not end in time: left running",
               {{"plugin", name}, {"timeout_ms", stop_timeout_.count()}});
    co_return;
  }
  if (!outcome.error) co_return;
  try {
    std::rethrow_exception(outcome.error);
  } catch (const std::exception& e) {
    log::error("plugins", "plugin failed to stop", {{"plugin", name}, {"error", e.what()}});
  } catch (...) {
    log::error("plugins", "plugin failed to stop", {{"plugin", name}, {"error", "unknown"}});
  }
}

Task<void> PluginHost::stop_retired(std::shared_ptr<LoadedPlugin> plugin) {
  const std::string name = plugin->info().name;
  if (plugin->state() == LoadedPlugin::State::running) co_await stop_plugin(plugin);
  plugin->set_state(LoadedPlugin::State::stopped);
  {
    const std::lock_guard lock(retiring_mutex_);
    std::erase(retiring_, plugin);
  }
  metrics_
      .counter("passerelle_plugin_stops_total", "Plugins stopped after a removal or an upgrade",
               "plugin=\"" + name + "\"")
      .add(1);
  log::info("plugins", "plugin drained and stopped", {{"plugin", name}});
}

Task<void> PluginHost::retire(std::shared_ptr<LoadedPlugin> plugin,
                              std::chrono::milliseconds grace) {
  // Closed first: a request that took the old table since enters no more (503, try again).
  plugin->close();
  services_.withdraw(plugin.get());  // its services, unless its successor took them over
  {
    const std::lock_guard lock(retiring_mutex_);
    retiring_.push_back(plugin);
  }
  if (co_await drain(plugin, grace)) {
    co_await stop_retired(std::move(plugin));
    co_return;
  }
  // Its handlers still run: stop() would pull resources from under them. It is stopped when
  // the last of them leaves; meanwhile it is listed as draining, and its name cannot be added
  // again.
  log::warn("plugins", "plugin still serving after the grace period: stopped once they end",
            {{"plugin", plugin->info().name}, {"in_flight", plugin->in_flight.load()}});
  auto executor = co_await boost::asio::this_coro::executor;
  std::weak_ptr<bool> alive = alive_;
  plugin->when_drained([this, alive, plugin, executor] {
    if (!alive.lock()) return;  // the host is gone
    boost::asio::co_spawn(executor, stop_retired(plugin), boost::asio::detached);
  });
}

std::vector<std::shared_ptr<LoadedPlugin>> PluginHost::retiring() const {
  const std::lock_guard lock(retiring_mutex_);
  return retiring_;
}

namespace {
// A refusal of the runtime controls, with the reason of the layer below.
[[noreturn]] void refuse(int status, const std::string& code, const std::string& why) {
  throw HttpError(status, code, why);
}
}  // namespace

Task<std::shared_ptr<LoadedPlugin>> PluginHost::load_beside(const PluginConfig& pc,
                                                            boost::json::object& settings) {
  std::shared_ptr<LoadedPlugin> plugin;
  try {
    // dlopen and the file's hash: blocking, on the plugins' pool.
    auto load = [&pc] { return load_entry(pc); };  // named (g++ 12)
    plugin = co_await blocking_->run(std::move(load));
  } catch (const PluginError& e) {
    refuse(422, "plugin_refused", e.what());
  }
  try {
    settings = validate_plugin_config(pc.config, pc.position,
                                      pc.file.empty() ? "the request's config" : pc.file,
                                      plugin->plugin().config_schema());
  } catch (const std::exception& e) {
    refuse(422, "invalid_config", e.what());
  }
  plugin->max_concurrent = pc.max_concurrent;
  co_return plugin;
}

Task<void> PluginHost::add(PluginConfig pc) {
  // Once begun, a change is carried through: the caller's deadline does not cut it halfway.
  co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::disable_cancellation());
  AsyncMutex::Lock lock = co_await admin_.lock();
  refuse_when_stopping();
  co_await add_locked(std::move(pc));
}

Task<void> PluginHost::reload(std::string name, std::string library,
                              std::chrono::milliseconds grace) {
  // Once begun, a change is carried through: the caller's deadline does not cut it halfway.
  co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::disable_cancellation());
  AsyncMutex::Lock lock = co_await admin_.lock();
  refuse_when_stopping();
  const Pending* current = find(name);
  if (!current) refuse(404, "not_found", "no plugin " + name);
  PluginConfig pc = current->config;
  if (!library.empty() && pc.kind == "proxy")
    refuse(422, "invalid_field", "library: " + name + " is a proxied service, it has none");
  if (!library.empty()) pc.library = std::move(library);
  co_await reload_locked(std::move(pc), grace);
}

Task<void> PluginHost::remove(std::string name, std::chrono::milliseconds grace) {
  // Once begun, a change is carried through: the caller's deadline does not cut it halfway.
  co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::disable_cancellation());
  AsyncMutex::Lock lock = co_await admin_.lock();
  refuse_when_stopping();
  co_await remove_locked(std::move(name), grace);
}

PluginHost::Pending* PluginHost::find(const std::string& name) {
  auto it = std::find_if(plugins_.begin(), plugins_.end(),
                         [&](const Pending& p) { return p.plugin->info().name == name; });
  return it == plugins_.end() ? nullptr : &*it;
}

Task<void> PluginHost::add_locked(PluginConfig pc) {
  for (const auto& old : retiring())
    if (old->info().name == pc.name)
      refuse(409, "plugin_draining",
             "plugin " + pc.name + " is still finishing requests: add it again once it stopped");
  boost::json::object settings;
  auto plugin = co_await load_beside(pc, settings);
  if (auto why = refusal(*plugin, pc); !why.empty())
    refuse(why.find("already loaded") != std::string::npos ? 409 : 422, "plugin_refused", why);
  plugins_.push_back({plugin, pc, std::move(settings)});
  co_await start_one(plugins_.back());
  if (plugin->state() != LoadedPlugin::State::running) {
    const std::string why = plugin->failure();
    plugins_.pop_back();
    refuse(422, "plugin_failed", "plugin " + pc.name + " did not start: " + why);
  }
  publish();
}

Task<void> PluginHost::reload_locked(PluginConfig pc, std::chrono::milliseconds grace) {
  const std::string name = pc.name;
  if (!find(name)) refuse(404, "not_found", "no plugin " + name);
  boost::json::object settings;
  auto next = co_await load_beside(pc, settings);
  if (next->info().name != name)
    refuse(422, "plugin_refused",
           "plugin library " + pc.library + " is named \"" + next->info().name + "\", not \"" +
               name + "\"");
  // Started beside the running one (its migrations first); the switch is one table swap.
  Pending candidate{next, std::move(pc), std::move(settings)};
  co_await start_one(candidate);
  if (next->state() != LoadedPlugin::State::running)
    refuse(422, "plugin_failed",
           "the new " + name + " did not start (the running one goes on): " + next->failure());
  Pending* current = find(name);
  std::shared_ptr<LoadedPlugin> previous = std::exchange(current->plugin, next);
  current->config = std::move(candidate.config);
  current->settings = std::move(candidate.settings);
  publish();
  co_await retire(std::move(previous), grace);
}

Task<void> PluginHost::remove_locked(std::string name, std::chrono::milliseconds grace) {
  Pending* current = find(name);
  if (!current) refuse(404, "not_found", "no plugin " + name);
  std::shared_ptr<LoadedPlugin> previous = current->plugin;
  plugins_.erase(plugins_.begin() + (current - plugins_.data()));
  publish();  // no new request reaches it
  co_await retire(std::move(previous), grace);
}

namespace {
// Whether two entries of the config would run a plugin alike.
bool same_entry(const PluginConfig& a, const PluginConfig& b) {
  const auto dump = [](const YAML::Node& n) {
    return n.IsDefined() && !n.IsNull() ? YAML::Dump(n) : std::string();
  };
  return a.kind == b.kind && a.library == b.library && a.timeout == b.timeout &&
         a.route_timeouts == b.route_timeouts && a.max_concurrent == b.max_concurrent &&
         a.required == b.required && dump(a.config) == dump(b.config);
}

void note_failure(boost::json::array& failed, const std::string& name, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    failed.push_back(boost::json::object{{"name", name}, {"error", e.what()}});
  }
}
}  // namespace

Task<boost::json::object> PluginHost::apply(std::vector<PluginConfig> wanted,
                                            std::chrono::milliseconds grace) {
  // Once begun, a change is carried through: the caller's deadline does not cut it halfway.
  co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::disable_cancellation());
  AsyncMutex::Lock lock = co_await admin_.lock();
  refuse_when_stopping();
  boost::json::array added, removed, reloaded, failed;
  // Each change on its own: one refused leaves the others made, and says why.
  std::vector<std::string> gone;
  for (const auto& p : plugins_)
    if (std::none_of(wanted.begin(), wanted.end(),
                     [&](const PluginConfig& w) { return w.name == p.config.name; }))
      gone.push_back(p.config.name);
  for (auto& name : gone) {
    std::exception_ptr error;
    try {
      co_await remove_locked(name, grace);
      removed.emplace_back(name);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) note_failure(failed, name, error);
  }
  for (auto& pc : wanted) {
    const std::string name = pc.name;
    const Pending* current = find(name);
    if (current && same_entry(current->config, pc)) continue;
    const bool upgrade = current != nullptr;
    std::exception_ptr error;
    try {
      if (upgrade)
        co_await reload_locked(std::move(pc), grace);
      else
        co_await add_locked(std::move(pc));
    } catch (...) {
      error = std::current_exception();
    }
    if (error)
      note_failure(failed, name, error);
    else
      (upgrade ? reloaded : added).emplace_back(name);
  }
  co_return boost::json::object{{"added", std::move(added)},
                                {"removed", std::move(removed)},
                                {"reloaded", std::move(reloaded)},
                                {"failed", std::move(failed)}};
}

boost::json::array PluginHost::describe(bool with_failures) const {
  boost::json::array out;
  for (const auto& plugin : table()->plugins) {
    boost::json::object o;
    o["name"] = plugin->info().name;
    o["version"] = plugin->info().version;
    o["description"] = plugin->info().description;
    o["state"] = state_name(plugin->state());
    if (with_failures && plugin->state() == LoadedPlugin::State::failed)
      o["failure"] = plugin->failure().substr(0, 300);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace passerelle
