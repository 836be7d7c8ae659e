// hello's handlers: each shows one part of the SDK in a few lines.
#include "hello_plugin.hpp"

#include "items.hpp"

#include "passerelle/sdk.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <charconv>

namespace passerelle::plugins::hello {

namespace json = boost::json;

namespace {
// Each key declared once, with the member it fills; its default is that of Settings{}.
const ConfigReader<Settings> kConfig =
    ConfigReader<Settings>()
        .key("greeting", &Settings::greeting, "Text of GET /api/hello")
        .key("upstream_url", &Settings::upstream_url, "URL fetched by GET /api/hello/upstream")
        .key("max_items", &Settings::max_items, "Items kept at most");
}  // namespace

PluginInfo HelloPlugin::info() const {
  return {kName, "1.0.0", "Example service: a greeting, a list of items, an upstream call."};
}

std::vector<ConfigField> HelloPlugin::config_schema() const { return kConfig.schema(); }

// Migration 1 was written for SQLite before the portable-SQL rules (an AUTOINCREMENT id, a
// strftime default); it stays as applied, and PostgreSQL gets the final shape directly.
// Migration 2 brings SQLite to that shape. New migrations: one portable `sql` text.
std::vector<Migration> HelloPlugin::migrations() const {
  Migration items{1, "", {}};
  items.sql_by_dialect["sqlite"] =
#include "migrations/001_items.inc"
      ;
  items.sql_by_dialect["postgresql"] =
#include "migrations/001_items_postgresql.inc"
      ;
  Migration epoch_times{2, "", {}};
  epoch_times.sql_by_dialect["sqlite"] =
#include "migrations/002_created_at_sqlite.inc"
      ;
  epoch_times.sql_by_dialect["postgresql"] = "";  // migration 1 made it so already
  return {items, epoch_times};
}

Task<void> HelloPlugin::start(Host& host) {
  host_ = &host;
  settings_ = kConfig.read(host.config());
  greetings_ = &host.metrics().counter("greetings_total", "Greetings served");
  host.logger().info("ready, greeting \"" + settings_.greeting + "\"");
  co_return;
}

// Paths are relative to the plugin's mount, /api/hello.
std::vector<Route> HelloPlugin::routes() {
  return {
      {"GET", "", {}, [this](Request r) { return greet(std::move(r)); }},
      {"GET", "items", {}, [this](Request r) { return list(std::move(r)); }},
      {"POST", "items", {"operator"}, [this](Request r) { return create(std::move(r)); }},
      {"GET", "items/{id}", {}, [this](Request r) { return get(std::move(r)); }},
      {"POST", "echo", {}, [this](Request r) { return echo(std::move(r)); }},
      {"GET", "upstream", {}, [this](Request r) { return upstream(std::move(r)); }},
      {"GET", "me", {"*"}, [this](Request r) { return me(std::move(r)); }},
  };
}

Task<std::optional<json::value>> HelloPlugin::widget(Identity identity) {
  co_return json::object{{"title", "Hello"},
                         {"text", settings_.greeting + ", " + identity.display_name}};
}

Task<Response> HelloPlugin::greet(Request) {
  greetings_->add();
  co_return Response::json(json::object{{"message", settings_.greeting}});
}

Task<Response> HelloPlugin::list(Request) {
  Statement select{"SELECT id, name, created_at FROM hello_items ORDER BY id LIMIT 100", {}};
  auto rows = co_await host_->database().query(std::move(select));
  json::array items;
  for (const auto& row : rows.rows) items.push_back(item_json(row));
  co_return Response::json(json::object{{"items", std::move(items)}});
}

Task<Response> HelloPlugin::create(Request r) {
  const std::string name = parse_new_item(r.body);
  // Portable SQL: numbered placeholders, the time computed here, the new row by RETURNING.
  // Built before co_await: g++ 12 miscompiles braced lists inside a co_await expression.
  Statement insert{
      "INSERT INTO hello_items (name, created_at) SELECT ?1, ?2"
      " WHERE (SELECT count(*) FROM hello_items) < ?3"
      " RETURNING id, name, created_at",
      {name, host_->epoch_seconds(), settings_.max_items}};
  auto result = co_await host_->database().query(std::move(insert));
  if (result.rows.empty()) throw HttpError(409, "limit_reached", "too many items");
  host_->logger().info("item created");
  co_return Response::json(item_json(result.rows.at(0)), 201);
}

Task<Response> HelloPlugin::get(Request r) {
  std::int64_t id = 0;
  const std::string& text = r.param("id");
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw HttpError(400, "bad_request", "id must be an integer");
  Statement select{"SELECT id, name, created_at FROM hello_items WHERE id = ?1", {id}};
  auto rows = co_await host_->database().query(std::move(select));
  if (rows.rows.empty()) throw HttpError(404, "not_found", "no item " + text);
  co_return Response::json(item_json(rows.rows[0]));
}

Task<Response> HelloPlugin::echo(Request r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) throw HttpError(400, "invalid_json", "the body is not valid JSON");
  co_return Response::json(json::object{{"echo", std::move(v)}});
}

Task<Response> HelloPlugin::upstream(Request) {
  if (settings_.upstream_url.empty())
    throw HttpError(404, "not_configured", "no upstream is configured");
  OutboundRequest out;
  out.url = settings_.upstream_url;
  out.timeout = std::chrono::seconds(5);
  OutboundResponse res = co_await host_->http().fetch(std::move(out));
  co_return Response::json(json::object{{"status", res.status}, {"bytes", res.body.size()}});
}

Task<Response> HelloPlugin::me(Request r) {
  co_return Response::json(
      json::object{{"subject", r.identity->subject}, {"display_name", r.identity->display_name}});
}

}  // namespace passerelle::plugins::hello

PASSERELLE_PLUGIN(passerelle::plugins::hello::HelloPlugin)
