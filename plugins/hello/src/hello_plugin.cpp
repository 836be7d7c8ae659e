// hello: the example plugin. It shows every part of the SDK in a few lines each: config,
// logger, migrations, database, outbound HTTP, metrics, roles and a dashboard widget.
#include "items.hpp"

#include "passerelle/sdk.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <charconv>

namespace passerelle::plugins::hello {

namespace json = boost::json;

// The typed config, read once at start.
struct Settings {
  std::string greeting;
  std::string upstream_url;
  std::int64_t max_items = 0;
};

class HelloPlugin final : public Plugin {
 public:
  PluginInfo info() const override {
    return {"hello", "1.0.0", "Example service: a greeting, a list of items, an upstream call."};
  }

  std::vector<ConfigField> config_schema() const override {
    return {
        {"greeting", ConfigType::string, false, "Bonjour", "Text of GET /api/hello"},
        {"upstream_url", ConfigType::string, false, "", "URL fetched by GET /api/hello/upstream"},
        {"max_items", ConfigType::integer, false, 1000, "Items kept at most"},
    };
  }

  // Migration 1 was written for SQLite before the portable-SQL rules (an AUTOINCREMENT id, a
  // strftime default); it stays as applied, and PostgreSQL gets the final shape directly.
  // Migration 2 brings SQLite to that shape. New migrations: one portable `sql` text.
  std::vector<Migration> migrations() const override {
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

  Task<void> start(Host& host) override {
    host_ = &host;
    const auto& c = host.config();
    settings_.greeting = std::string(c.at("greeting").as_string());
    settings_.upstream_url = std::string(c.at("upstream_url").as_string());
    settings_.max_items = c.at("max_items").as_int64();
    greetings_ = &host.metrics().counter("greetings_total", "Greetings served");
    host.logger().info("ready, greeting \"" + settings_.greeting + "\"");
    co_return;
  }

  std::vector<Route> routes() override {
    return {
        {"GET", "/api/hello", {}, [this](Request r) { return greet(std::move(r)); }},
        {"GET", "/api/hello/items", {}, [this](Request r) { return list(std::move(r)); }},
        {"POST",
         "/api/hello/items",
         {"operator"},
         [this](Request r) { return create(std::move(r)); }},
        {"GET", "/api/hello/items/{id}", {}, [this](Request r) { return get(std::move(r)); }},
        {"POST", "/api/hello/echo", {}, [this](Request r) { return echo(std::move(r)); }},
        {"GET", "/api/hello/upstream", {}, [this](Request r) { return upstream(std::move(r)); }},
        {"GET", "/api/hello/me", {"*"}, [this](Request r) { return me(std::move(r)); }},
    };
  }

  bool widget_immediate() const override { return true; }  // made from the identity alone

  Task<std::optional<json::value>> widget(Identity identity) override {
    co_return json::object{{"title", "Hello"},
                           {"text", settings_.greeting + ", " + identity.display_name}};
  }

 private:
  Task<Response> greet(Request) {
    greetings_->add();
    co_return Response::json(json::object{{"message", settings_.greeting}});
  }

  Task<Response> list(Request) {
    Statement select{"SELECT id, name, created_at FROM hello_items ORDER BY id LIMIT 100", {}};
    auto rows = co_await host_->database().query(std::move(select));
    json::array items;
    for (const auto& row : rows.rows) items.push_back(item_json(row));
    co_return Response::json(json::object{{"items", std::move(items)}});
  }

  Task<Response> create(Request r) {
    const std::string name = parse_new_item(r.body);
    // Portable SQL: numbered placeholders, the time computed here, the new row by RETURNING.
    // Built before co_await: g++ 12 miscompiles braced lists inside a co_await expression.
    Statement insert{
        "INSERT INTO hello_items (name, created_at) SELECT ?1, ?2"
        " WHERE (SELECT count(*) FROM hello_items) < ?3"
        " RETURNING id, name, created_at",
        {name, epoch_seconds(), settings_.max_items}};
    auto result = co_await host_->database().query(std::move(insert));
    if (result.rows.empty()) throw HttpError(409, "limit_reached", "too many items");
    host_->logger().info("item created");
    co_return Response::json(item_json(result.rows.at(0)), 201);
  }

  Task<Response> get(Request r) {
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

  Task<Response> echo(Request r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec) throw HttpError(400, "invalid_json", "the body is not valid JSON");
    co_return Response::json(json::object{{"echo", std::move(v)}});
  }

  Task<Response> upstream(Request) {
    if (settings_.upstream_url.empty())
      throw HttpError(404, "not_configured", "no upstream is configured");
    OutboundRequest out;
    out.url = settings_.upstream_url;
    out.timeout = std::chrono::seconds(5);
    OutboundResponse res = co_await host_->http().fetch(std::move(out));
    co_return Response::json(json::object{{"status", res.status}, {"bytes", res.body.size()}});
  }

  Task<Response> me(Request r) {
    co_return Response::json(
        json::object{{"subject", r.identity->subject}, {"display_name", r.identity->display_name}});
  }

  Host* host_ = nullptr;
  Settings settings_;
  Counter* greetings_ = nullptr;
};

}  // namespace passerelle::plugins::hello

PASSERELLE_PLUGIN(passerelle::plugins::hello::HelloPlugin)
