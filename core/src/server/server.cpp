// Start-up order: store, plugins loaded, listeners open, plugins started (readyz turns 200).
// Shutdown order: stop accepting, close idle connections, let in-flight requests finish within
// the grace period, stop plugins, stop the threads.
#include "server/server.hpp"

#include "attachments/attachment_store.hpp"
#include "auth/auth_routes.hpp"
#include "auth/auth_service.hpp"
#include "auth/crypto.hpp"
#include "auth/identity_tokens.hpp"
#include "auth/oidc/oidc_logins.hpp"
#include "auth/relay.hpp"
#include "client/http_client.hpp"
#include "http/admin_overview.hpp"
#include "http/admin_plugins.hpp"
#include "http/dashboard.hpp"
#include "http/dispatcher.hpp"
#include "http/status_routes.hpp"
#include "log/access_log.hpp"
#include "log/log.hpp"
#include "metrics/registry.hpp"
#include "orgs/organisations.hpp"
#include "plugins/plugin_host.hpp"
#include "server/sessions.hpp"
#include "server/tls_context.hpp"
#include "store/core_schema.hpp"
#include "store/open_store.hpp"
#include "territories/territory_routes.hpp"
#include "territories/territory_store.hpp"
#include "util/blocking_pool.hpp"
#include "util/heap_trim.hpp"
#include "util/run_sync.hpp"
#include "web/static_site.hpp"
#include "web/web_routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

namespace passerelle {

namespace asio = boost::asio;
using asio::ip::tcp;

// One io_context per I/O thread, each with its own listening sockets (SO_REUSEPORT: the kernel
// spreads connections), so that threads share no scheduler lock; measured 2026-11: +25 % req/s
// over one io_context run by two threads (tools/bench).
struct Worker {
  asio::io_context ioc{1};  // run by one thread; other threads only post to it
  tcp::acceptor https{ioc};
  tcp::acceptor http{ioc};
};

// A session that throws (it should not: network errors are error codes) ends its connection;
// the reason goes to the log instead of vanishing.
void log_session_failure(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    log::error("server", "connection ended by an exception", {{"error", e.what()}});
  } catch (...) {
    log::error("server", "connection ended by an exception", {{"error", "unknown"}});
  }
}

struct Server::Impl {
  Config config;
  std::string public_url;  // known once the HTTPS listener is bound
  std::vector<std::unique_ptr<Worker>> workers;
  asio::io_context& ioc;     // the first worker's: signals, plugin start-up, shutdown
  BlockingPool blocking{2};  // password hashing, file reads: off the I/O threads
  MetricsRegistry metrics;
  std::unique_ptr<Store> owned_store;  // SQLite, or PostgreSQL (store.postgresql)
  Store& store;
  AttachmentStore attachments;  // the files of the plugins' upload routes
  OutboundHttpClient http;
  IdentityTokens identity_tokens{public_url};
  LiveTerritories territories;  // from the store before plugins start, again on each import
  // Reloads of the territories: one at a time, at most one more asked for meanwhile (ioc only).
  bool territories_reloading = false;
  bool territories_reload_pending = false;
  auth::RelaySeen relayed_seen;  // the store's thread only (every listen callback runs there)
  PluginHost plugins;
  AuthService auth;
  OidcLogins oidc;
  Dispatcher dispatcher;
  ConnectionTracker tracker;
  SessionEnv env;
  std::atomic<std::shared_ptr<asio::ssl::context>> tls;
  // The portal's files; swapped whole on SIGHUP, so a request sees one version or the other.
  std::atomic<std::shared_ptr<const StaticSite>> site;
  asio::steady_timer* heap_trim_timer = nullptr;  // the trim loop's, while it runs (ioc only)

  static std::vector<std::unique_ptr<Worker>> make_workers(unsigned n) {
    std::vector<std::unique_ptr<Worker>> out;
    for (unsigned i = 0; i < std::max(1u, n); ++i) out.push_back(std::make_unique<Worker>());
    return out;
  }

  explicit Impl(Config c)
      : config(std::move(c)),
        workers(make_workers(config.server.workers)),
        ioc(workers.front()->ioc),
        owned_store(open_store(config.store, config.store.threads, plugin_role_secret(config))),
        store(*owned_store),
        attachments(config.attachments, store),
        http(config.outbound),
        plugins(store, http, metrics, config.server.handler_timeout, &identity_tokens,
                &territories),
        auth(store, blocking, config.auth, config.demo),
        oidc(auth, store, http, config.auth.oidc, public_url),
        dispatcher(
            plugins, metrics, [this](const IncomingRequest& in) { return auth.authenticate(in); },
            core_routes()),
        tracker({config.server.limits.max_connections,
                 config.server.limits.max_connections_per_address,
                 config.server.limits.max_connections * 9 / 10}),
        // Access lines are info lines: a higher log level turns them off, as it always has.
        env{config.server, dispatcher, tracker,
            config.log.access_log && log::enabled(log::Level::info), 0} {
    plugins.set_stop_timeout(config.server.plugin_stop_timeout);
    access_log::configure(config.log.access_log_buffer);
    env.handshakes =
        &metrics.counter("passerelle_tls_handshakes_total", "TLS handshakes", "result=\"ok\"");
    env.handshakes_failed =
        &metrics.counter("passerelle_tls_handshakes_total", "TLS handshakes", "result=\"failed\"");
    metrics_gauges = metrics.add_gauges([this](std::ostream& out) {
      out << "# HELP passerelle_sessions_cached Sessions known in this instance's memory\n"
             "# TYPE passerelle_sessions_cached gauge\npasserelle_sessions_cached "
          << auth.caches().sessions.size() << '\n';
    });
    // Several instances: what one forgets (a logout, a disabled account) every other forgets
    // too, through the store (PostgreSQL's NOTIFY; nothing to do with SQLite's one instance).
    // Each message is signed with a key derived from the secret key (every instance has it;
    // a plugin's role, which may NOTIFY too, does not): one without a valid tag is dropped.
    auth.caches().relay_through([this](const std::string& message) {
      store.notify(auth::kCallersChannel, auth::sign_relayed(auth.secrets(), "", message));
    });
    store.listen(
        auth::kCallersChannel,
        [this](const std::string& signed_message) {
          if (auto message = open_relayed("", signed_message))
            auth.caches().apply_relayed(*message);
        },
        [this] { auth.caches().apply_relayed("*"); });  // listening again: forget everything
    // A plugin's announcements (Host::announce) travel the same way, as "NAME.MESSAGE".
    plugins.set_relay([this](const std::string& plugin, const std::string& message) {
      store.notify(auth::kPluginsChannel,
                   auth::sign_relayed(auth.secrets(), "plugin ", plugin + "." + message));
    });
    store.listen(
        auth::kPluginsChannel,
        [this](const std::string& signed_message) {
          const auto named = open_relayed("plugin ", signed_message);
          const auto dot = named ? named->find('.') : std::string::npos;
          if (dot != std::string::npos)
            plugins.deliver(named->substr(0, dot), named->substr(dot + 1));
        },
        [this] { plugins.deliver("", "*"); });
    // Territories imported again (passerelle territories import, on any machine): read again.
    store.listen(
        auth::kTerritoriesChannel,
        [this](const std::string& signed_message) {
          if (open_relayed("territories ", signed_message)) request_territories_reload();
        },
        [this] { request_territories_reload(); });
    dispatcher.set_settle([this] { return store.notifications_sent(); });
    dispatcher.set_authenticate_now(
        [this](const IncomingRequest& in, const asio::any_io_executor& executor) {
          return auth.authenticate_now(in, executor);
        });
    tls.store(make_server_tls(config.tls.certificate, config.tls.private_key));
    load_site();
    plugins.set_mail(config.mail, config.outbound.ca_file);
    plugins.set_attachments(&attachments);
    plugins.load_all(config);
  }

  // Reads web.root into a new snapshot (blocking: at start-up, or on the blocking pool). A
  // missing folder turns the portal off, or on reload keeps the files already served.
  void load_site() {
    std::string problem;
    auto next = StaticSite::load(config.web.root, problem);
    if (!next) {
      if (site.load())
        log::error("web", "portal reload failed, keeping the previous files",
                   {{"root", config.web.root}, {"error", problem}});
      else
        log::warn("web", "portal off: no web app to serve",
                  {{"root", config.web.root}, {"error", problem}});
      return;
    }
    const auto files = next->file_count();
    const auto bytes = next->byte_count();
    site.store(std::move(next));  // live before it is said: a reader of the log may ask at once
    log::info("web", "portal loaded",
              {{"root", config.web.root}, {"files", files}, {"bytes", bytes}});
  }

  // Whether the portal's own login page is served now (files loaded, /connexion a page).
  bool portal_serves_login() const {
    const auto& pages = config.web.pages;
    return site.load() && std::find(pages.begin(), pages.end(), "/connexion") != pages.end();
  }

  // The gateway's own routes, declared like plugin routes and dispatched with them. Routes
  // that declare no deadline get server.handler_timeout, as plugin routes do.
  std::vector<CoreRoute> core_routes() {
    auto routes = status_routes(
        plugins, metrics, [this] { return store.available(); }, config.server.metrics_from);
    auto login = auth_routes(
        auth, [this](const AuthContext& ctx) { return oidc.end_session_url(ctx); },
        oidc.providers(), [this] { return portal_serves_login(); });
    routes.insert(routes.end(), login.begin(), login.end());
    routes.push_back(dashboard_route(plugins, std::chrono::seconds(3)));
    routes.push_back(admin_overview_route(plugins, metrics));
    auto admin = admin_plugin_routes(
        plugins, metrics, config.plugin_dir, config.server.shutdown_grace,
        [this] { return reload_plugins_config(); }, config.proxy_upstreams);
    routes.insert(routes.end(), admin.begin(), admin.end());
    auto places = territory_routes([this]() -> const Territories& { return territories; });
    routes.insert(routes.end(), places.begin(), places.end());
    auto organisations =
        organisation_routes({.store = store,
                             .accounts = auth.accounts(),
                             .caches = &auth.caches(),
                             .territories = [this]() -> const Territories& { return territories; },
                             .services =
                                 [this] {
                                   std::vector<std::string> names;
                                   for (const auto& plugin : plugins.table()->plugins)
                                     names.push_back(plugin->info().name);
                                   return names;
                                 },
                             .mailer = [this]() -> Mailer* { return plugins.mailer(); },
                             .public_url = [this] { return public_url; }});
    routes.insert(routes.end(), organisations.begin(), organisations.end());
    auto federated = oidc.routes();
    routes.insert(routes.end(), federated.begin(), federated.end());
    auto portal = web_routes([this] { return site.load(); }, config.web.pages);
    routes.insert(routes.end(), portal.begin(), portal.end());
    routes.push_back({{.method = "GET",
                       .path = "/.well-known/jwks.json",
                       .authenticate = false,
                       .immediate = true},
                      {},
                      [this](CoreRequest&) {
                        Response r = Response::json(identity_tokens.jwks());
                        r.headers.emplace_back("Cache-Control", "public, max-age=300");
                        return r;
                      }});
    for (auto& route : routes)
      if (route.spec.deadline.count() == 0) route.spec.deadline = config.server.handler_timeout;
    return routes;
  }

  // The store's own schema, demo accounts or the demo-password guard: before serving.
  asio::awaitable<void> prepare_store() {
    co_await store.migrate("core", core_migrations());
    co_await auth.seal_stored_secrets();
    co_await identity_tokens.load(store, auth.secrets());
    territories.publish(std::make_unique<TerritoryIndex>(co_await load_territories(store)));
    if (territories.current().commune_count() == 0)
      log::warn("territories", "no territories in the store: run tools/import-territories");
    else
      log::info("territories", "territories loaded",
                {{"communes", territories.current().commune_count()},
                 {"epcis", territories.current().epci_count()}});
    if (territories.current().commune_count() > 0 && territories.current().epci_count() == 0)
      log::warn("territories",
                "no intercommunalities in the store (imported by an older release): run "
                "tools/import-territories again");
    if (config.demo)
      co_await auth.seed_demo_accounts();
    else
      co_await auth.refuse_demo_passwords();
  }

  // Binds every worker's acceptor to one port (the first one picks it when `port` is 0).
  std::uint16_t open(tcp::acceptor Worker::*which, std::uint16_t port) {
    if (port != 0) {
      // SO_REUSEPORT would let a second gateway share the port silently: probe with a plain
      // bind first, so that "address in use" still stops the start.
      tcp::acceptor probe(ioc);
      const tcp::endpoint ep(asio::ip::make_address(config.server.listen), port);
      boost::system::error_code ec;
      probe.open(ep.protocol());
      probe.set_option(tcp::acceptor::reuse_address(true));  // TIME_WAIT of a previous run is fine
      probe.bind(ep, ec);
      if (ec)
        throw std::runtime_error("cannot listen on " + config.server.listen + ":" +
                                 std::to_string(port) + ": " + ec.message());
    }
    for (auto& w : workers) {
      tcp::acceptor& acceptor = (*w).*which;
      const tcp::endpoint ep(asio::ip::make_address(config.server.listen), port);
      boost::system::error_code ec;
      acceptor.open(ep.protocol());
      acceptor.set_option(tcp::acceptor::reuse_address(true));
      acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
      acceptor.bind(ep, ec);
      if (ec)
        throw std::runtime_error("cannot listen on " + config.server.listen + ":" +
                                 std::to_string(port) + ": " + ec.message());
      acceptor.listen(asio::socket_base::max_listen_connections);
      port = acceptor.local_endpoint().port();
    }
    return port;
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, bool https) {
    // The worker's io_context is run by one thread: a session needs no strand.
    auto executor = acceptor.get_executor();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {
        // EMFILE and friends: back off briefly instead of spinning.
        log::warn("server", "accept failed", {{"error", ec.message()}});
        asio::steady_timer pause(executor, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto state = admit_connection(config.server.trusted_proxies, tracker, socket);
      if (!state) {
        metrics.counter("passerelle_connections_refused_total", "Connections over a limit").add(1);
        continue;  // the socket closes as it goes out of scope
      }
      socket.set_option(tcp::no_delay(true));
      metrics
          .counter("passerelle_connections_total", "Accepted connections",
                   https ? "scheme=\"https\"" : "scheme=\"http\"")
          .add(1);
      if (https)
        asio::co_spawn(executor,
                       run_https_session(std::move(socket), tls.load(), env, std::move(state)),
                       log_session_failure);
      else
        asio::co_spawn(executor, run_redirect_session(std::move(socket), env, std::move(state)),
                       log_session_failure);
    }
  }

  // Hands the thread's access-log buffer to the writer at each interval, so that a quiet
  // server's lines do not wait for the buffer to fill; runs on each worker's own thread.
  static asio::awaitable<void> flush_access_log(std::chrono::milliseconds interval) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
      timer.expires_after(interval);
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      access_log::flush_thread();
    }
  }

  // Closes each minute of the metrics history at the minute's end, on the wall clock so that
  // points fall on whole minutes. A timer of the first worker, not a thread of its own.
  asio::awaitable<void> close_minutes() {
    asio::system_timer timer(ioc);
    for (;;) {
      const auto minute =
          std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now());
      timer.expires_at(minute + std::chrono::minutes(1));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      metrics.close_minute(
          std::chrono::duration_cast<std::chrono::seconds>(minute.time_since_epoch()).count());
    }
  }

  asio::awaitable<void> reload_tls() {
    // Reading PEM files is blocking: do it on the blocking pool, then swap atomically. Existing
    // connections keep the context they started with.
    try {
      auto load = [this] {
        return make_server_tls(config.tls.certificate, config.tls.private_key);
      };
      auto next = co_await blocking.run(std::move(load));
      tls.store(std::move(next));
      log::info("server", "TLS certificates reloaded", {{"certificate", config.tls.certificate}});
    } catch (const std::exception& e) {
      log::error("server", "TLS reload failed, keeping the previous certificates",
                 {{"error", e.what()}});
    }
  }

  // A relayed message of `domain`, if it is genuine, recent and new (store's thread).
  std::optional<std::string> open_relayed(std::string_view domain, const std::string& text) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return auth::open_relayed(auth.secrets(), domain, text, relayed_seen, now_ms);
  }

  // From any thread: a reload of the territories, coalesced with one under way.
  void request_territories_reload() {
    asio::post(ioc, [this] {
      if (territories_reloading) {
        territories_reload_pending = true;
        return;
      }
      territories_reloading = true;
      asio::co_spawn(ioc, reload_territories_while_asked(), asio::detached);
    });
  }

  asio::awaitable<void> reload_territories_while_asked() {
    do {
      territories_reload_pending = false;
      co_await reload_territories();
    } while (territories_reload_pending);
    territories_reloading = false;
  }

  // The territories as the store has them now, the index built off the I/O threads; a failure
  // keeps the ones served, and so does an index equal to the one served.
  asio::awaitable<void> reload_territories() {
    try {
      TerritoryData data = co_await load_territories(store);
      auto build = [d = std::move(data)]() mutable {
        return std::make_shared<TerritoryIndex>(std::move(d));
      };
      const std::shared_ptr<TerritoryIndex> index = co_await blocking.run(std::move(build));
      const auto communes = index->commune_count();
      if (communes == 0) {
        log::warn("territories", "the store has no territories now: keeping the ones served");
        co_return;
      }
      if (index->fingerprint() == territories.current().fingerprint()) co_return;  // unchanged
      territories.publish(std::make_unique<TerritoryIndex>(std::move(*index)));
      log::info("territories", "territories reloaded", {{"communes", communes}});
    } catch (const std::exception& e) {
      log::error("territories", "territories reload failed, keeping the ones served",
                 {{"error", e.what()}});
    }
  }

  asio::awaitable<void> reload_site() {
    try {
      auto load = [this] { load_site(); };
      co_await blocking.run(std::move(load));
    } catch (const std::exception& e) {
      log::error("web", "portal reload failed, keeping the previous files", {{"error", e.what()}});
    }
  }

  int exit_code = 0;               // 1: stopped because a required plugin did not start
  std::size_t metrics_gauges = 0;  // the sessions' gauge, in the metrics registry

  // The config file read again (on the blocking pool) and its plugins applied: added, removed,
  // reloaded when their entry changed. ConfigError when the file is refused: nothing changes.
  // Other sections take effect at the next start.
  Task<boost::json::object> reload_plugins_config() {
    auto read = [file = config.file] { return load_config(file); };  // named (g++ 12)
    Config next = co_await blocking.run(std::move(read));
    co_return co_await plugins.apply(std::move(next.plugins), config.server.shutdown_grace);
  }

  asio::awaitable<void> shutdown() {
    log::info("server", "shutting down", {{"grace_ms", config.server.shutdown_grace.count()}});
    for (auto& w : workers)
      asio::post(w->ioc, [worker = w.get()] {
        boost::system::error_code ignored;
        worker->https.close(ignored);
        worker->http.close(ignored);
      });
    tracker.begin_shutdown();
    const auto deadline = std::chrono::steady_clock::now() + config.server.shutdown_grace;
    asio::steady_timer timer(ioc);
    while (tracker.count() > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (const auto left = tracker.count()) {
      log::warn("server", "grace period over, closing connections", {{"connections", left}});
      tracker.close_all();
      const auto hard_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (tracker.count() > 0 && std::chrono::steady_clock::now() < hard_deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    // Plugins stop once their requests ended (a handler that outlived a 504 may still run).
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    co_await plugins.stop_all(std::max(left, std::chrono::milliseconds(1000)));
    for (auto& w : workers) w->ioc.stop();
  }

  ~Impl() {
    metrics.remove_gauges(metrics_gauges);
    // Threads that may post into the io_contexts finish first; then the io_contexts go, with
    // any coroutine frame still in them, while everything those frames point to still exists.
    for (auto& w : workers) w->ioc.stop();
    // Destroying the io_contexts ends the sessions left, each leaving the tracker: nothing
    // must be posted into an io_context then.
    tracker.on_burst_end(BurstEndDetector(0, {}), nullptr);
    store.join();
    blocking.join();
    plugins.join();
    attachments.join();
    workers.clear();
  }

  // glibc keeps the memory a burst of connections freed; once the burst is over, give it back
  // (see util/heap_trim.hpp). The heap is asked and trimmed on the blocking pool: both take
  // malloc's arena locks. Checked every heap_trim_interval, and at once when the tracker sees
  // the connections fall by half (wake_heap_trim): bursts a few seconds apart would otherwise
  // often end between two checks and the next one begin before the later check.
  asio::awaitable<void> trim_heap_after_bursts() {
    // Below this, trimming is not worth its page faults when the next burst comes.
    constexpr std::size_t kMinFree = 8 * 1024 * 1024;
    // After the tracker's notice, the rest of the burst closes within milliseconds (a client
    // that stops closes all its connections at once): trim once they have.
    constexpr auto kSettle = std::chrono::milliseconds(100);
    HeapTrimPolicy policy(kMinFree);
    asio::steady_timer timer(ioc);
    heap_trim_timer = &timer;
    while (!tracker.stopping()) {
      timer.expires_after(config.server.heap_trim_interval);
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (tracker.stopping()) break;
      const bool burst_ended = ec == asio::error::operation_aborted;
      if (burst_ended) {
        timer.expires_after(kSettle);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      const std::size_t connections = tracker.count();
      auto check = [&policy, connections, burst_ended] {
        if (policy.should_trim(connections, heap_figures().free, burst_ended)) trim_heap();
      };
      co_await blocking.run(std::move(check));
    }
    heap_trim_timer = nullptr;
  }

  // From the tracker, on the thread of the connection that just closed: hands the wake-up to
  // the first worker, whose thread alone touches the trim loop's timer.
  void wake_heap_trim() {
    asio::post(ioc, [this] {
      if (heap_trim_timer) heap_trim_timer->cancel();
    });
  }

  asio::awaitable<void> reload_plugins_on_signal() {
    std::string refused;
    try {
      const boost::json::object done = co_await reload_plugins_config();
      log::info("audit", "config reloaded",
                {{"actor", "SIGHUP"}, {"detail", boost::json::serialize(done)}});
    } catch (const std::exception& e) {
      refused = e.what();
    }
    if (!refused.empty())
      log::error("server", "config reload refused: the running config stays", {{"error", refused}});
  }

  asio::awaitable<void> signals() {
    asio::signal_set set(ioc, SIGINT, SIGTERM, SIGHUP);
    for (;;) {
      auto [ec, signo] = co_await set.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      if (signo == SIGHUP) {
        co_await reload_tls();
        co_await reload_site();
        request_territories_reload();
        // Apart: a plugin that drains slowly does not hold the next signal (a SIGTERM) back.
        asio::co_spawn(ioc, reload_plugins_on_signal(), asio::detached);
        continue;
      }
      co_await shutdown();
      co_return;
    }
  }
};

Server::Server(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Server::~Server() = default;

int Server::run() {
  Impl& s = *impl_;
  {
    // Before any listener opens: a store or account problem stops the start with one line.
    run_sync(s.prepare_store());
  }
  s.env.https_port = s.open(&Worker::https, s.config.server.https_port);
  s.public_url = !s.config.server.public_url.empty() ? s.config.server.public_url
                 : s.env.https_port == 443
                     ? std::string("https://localhost")
                     : "https://localhost:" + std::to_string(s.env.https_port);
  boost::json::object fields{{"address", s.config.server.listen},
                             {"https_port", s.env.https_port},
                             {"workers", s.workers.size()}};
  if (s.config.server.redirect_http)
    fields["http_port"] = s.open(&Worker::http, s.config.server.http_port);
  fields["store"] = describe_store(s.config.store);
  for (auto& w : s.workers) {
    if (s.config.server.redirect_http)
      asio::co_spawn(w->ioc, s.accept_loop(w->http, false), asio::detached);
    asio::co_spawn(w->ioc, s.accept_loop(w->https, true), asio::detached);
    if (s.env.access_log)
      asio::co_spawn(w->ioc, s.flush_access_log(s.config.log.access_log_flush), asio::detached);
  }
  asio::co_spawn(s.ioc, s.signals(), asio::detached);
  asio::co_spawn(s.ioc, s.close_minutes(), asio::detached);
  if (s.config.server.heap_trim_interval.count() > 0) {
    // A burst worth a look: 64 connections or more (35-55 KB each while busy; the policy still
    // trims only when 8 MiB or more are free); at most one early check a second.
    s.tracker.on_burst_end(BurstEndDetector(64, std::chrono::seconds(1)),
                           [&s] { s.wake_heap_trim(); });
    asio::co_spawn(s.ioc, s.trim_heap_after_bursts(), asio::detached);
  }
  // OpenID providers are discovered in the background: a provider down never delays the start.
  asio::co_spawn(s.ioc, s.oidc.discover_all(), asio::detached);
  log::info("server", "listening", std::move(fields));
  asio::co_spawn(s.ioc, s.plugins.start_all(), [&s](std::exception_ptr e) {
    if (e) {
      log::error("plugins", "start-up failed");
      return;
    }
    // A plugin the config marks required that did not start stops the gateway (exit code 1).
    if (const auto failed = s.plugins.failed_required(); !failed.empty()) {
      std::string names;
      for (const auto& n : failed) names += (names.empty() ? "" : ", ") + n;
      log::error("server", "a required plugin failed to start: stopping", {{"plugins", names}});
      s.exit_code = 1;
      asio::co_spawn(s.ioc, s.shutdown(), asio::detached);
      return;
    }
    log::info("server", s.plugins.ready() ? "ready" : "started with failed plugins");
  });

  // Each I/O thread hands over its last access lines once it stops serving: a clean stop
  // loses none.
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < s.workers.size(); ++i)
    threads.emplace_back([w = s.workers[i].get()] {
      w->ioc.run();
      access_log::flush_thread();
    });
  s.ioc.run();
  access_log::flush_thread();
  for (auto& t : threads) t.join();
  log::info("server", "stopped");
  return s.exit_code;
}

}  // namespace passerelle
