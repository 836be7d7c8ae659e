// The SDK's test kit (passerelle/testing.hpp): a Host in memory, and a harness that runs a
// plugin's routes as the gateway would.
#include "passerelle/testing.hpp"

#include "store/table_guard.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>

namespace passerelle::testing {

namespace json = boost::json;

void RecordingLogger::log(Level level, std::string_view message) {
  lines.push_back({level, std::string(message)});
}

bool RecordingLogger::contains(std::string_view text, Level level) const {
  return std::any_of(lines.begin(), lines.end(), [&](const Line& l) {
    return l.level >= level && l.text.find(text) != std::string::npos;
  });
}

// ---- MemoryDatabase -------------------------------------------------------------------------

struct MemoryDatabase::State {
  sqlite3* db = nullptr;
  TableGuard guard;
  std::string plugin;
};

MemoryDatabase::MemoryDatabase(const std::string& plugin) : state_(std::make_unique<State>()) {
  state_->plugin = plugin;
  if (sqlite3_open(":memory:", &state_->db) != SQLITE_OK)
    throw std::runtime_error("test kit: cannot open an in-memory database");
  state_->guard.install(state_->db);
}

MemoryDatabase::~MemoryDatabase() {
  state_->guard.release();
  sqlite3_close(state_->db);
}

namespace {
struct StatementHandle {
  sqlite3_stmt* stmt = nullptr;
  ~StatementHandle() { sqlite3_finalize(stmt); }
};

void bind(sqlite3_stmt* stmt, const std::vector<SqlValue>& params) {
  if (static_cast<int>(params.size()) > sqlite3_bind_parameter_count(stmt))
    throw std::runtime_error("sqlite: more parameters than placeholders");
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i + 1);
    const SqlValue& v = params[i];
    if (std::holds_alternative<std::nullptr_t>(v)) sqlite3_bind_null(stmt, at);
    if (const auto* n = std::get_if<std::int64_t>(&v)) sqlite3_bind_int64(stmt, at, *n);
    if (const auto* d = std::get_if<double>(&v)) sqlite3_bind_double(stmt, at, *d);
    if (const auto* s = std::get_if<std::string>(&v))
      sqlite3_bind_text(stmt, at, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
  }
}

SqlValue column(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return static_cast<std::int64_t>(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_NULL:
      return nullptr;
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
  }
}
}  // namespace

QueryResult MemoryDatabase::execute(const Statement& statement, bool confined) {
  State& s = *state_;
  s.guard.confine(confined ? s.plugin : std::string());
  s.guard.begin_statement(s.db);
  StatementHandle h;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(s.db, statement.sql.c_str(), static_cast<int>(statement.sql.size()),
                         &h.stmt, &tail) != SQLITE_OK) {
    const std::string why = s.guard.refusal().empty() ? sqlite3_errmsg(s.db) : s.guard.refusal();
    throw std::runtime_error("sqlite: " + why);
  }
  if (!h.stmt) throw std::runtime_error("sqlite: empty statement");
  if (tail && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos)
    throw std::runtime_error("sqlite: one statement per query (use transaction() for several)");
  if (confined)
    for (int i = 1; i <= sqlite3_bind_parameter_count(h.stmt); ++i) {
      const char* name = sqlite3_bind_parameter_name(h.stmt, i);
      if (!name || name[0] != '?')
        throw std::runtime_error("sqlite: parameter " + std::to_string(i) + " must be written ?" +
                                 std::to_string(i) + " (numbered placeholders only)");
    }
  bind(h.stmt, statement.params);
  QueryResult result;
  for (int i = 0; i < sqlite3_column_count(h.stmt); ++i)
    result.columns.emplace_back(sqlite3_column_name(h.stmt, i));
  for (;;) {
    const int rc = sqlite3_step(h.stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(s.db));
    std::vector<SqlValue> row;
    for (int i = 0; i < sqlite3_column_count(h.stmt); ++i) row.push_back(column(h.stmt, i));
    result.rows.push_back(std::move(row));
  }
  result.changes = sqlite3_changes(s.db);
  result.last_insert_id = sqlite3_last_insert_rowid(s.db);
  return result;
}

Task<QueryResult> MemoryDatabase::query(Statement statement) { co_return execute(statement, true); }

Task<std::vector<QueryResult>> MemoryDatabase::transaction(std::vector<Statement> statements) {
  execute({"BEGIN", {}}, false);
  std::vector<QueryResult> results;
  try {
    for (const auto& statement : statements) results.push_back(execute(statement, true));
  } catch (...) {
    execute({"ROLLBACK", {}}, false);
    throw;
  }
  execute({"COMMIT", {}}, false);
  co_return results;
}

void MemoryDatabase::migrate(const std::vector<Migration>& migrations) {
  State& s = *state_;
  int last = 0;
  for (const auto& m : migrations) {
    if (m.version <= last)
      throw std::invalid_argument("migration " + std::to_string(m.version) +
                                  " is out of order (versions 1, 2, 3 ...)");
    last = m.version;
    auto own = m.sql_by_dialect.find("sqlite");
    const std::string& sql = own != m.sql_by_dialect.end() ? own->second : m.sql;
    execute({"BEGIN", {}}, false);
    s.guard.confine(s.plugin);
    s.guard.begin_statement(s.db);
    char* error = nullptr;
    if (sqlite3_exec(s.db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string why = s.guard.refusal().empty() ? (error ? error : "?") : s.guard.refusal();
      sqlite3_free(error);
      execute({"ROLLBACK", {}}, false);
      throw std::runtime_error("migration " + std::to_string(m.version) + ": " + why);
    }
    execute({"COMMIT", {}}, false);
  }
  s.guard.confine({});
}

QueryResult MemoryDatabase::inspect(const Statement& statement) {
  return execute(statement, false);
}

// ---- the other fakes ------------------------------------------------------------------------

Task<OutboundResponse> FakeHttpClient::fetch(OutboundRequest request) {
  requests.push_back(request);
  if (!respond) throw HttpError(502, "upstream_unavailable", "no upstream in this test");
  co_return respond(requests.back());
}

Task<void> RecordingMailer::send(Mail mail) {
  if (!relay) throw std::runtime_error("no mail relay is configured");
  sent.push_back(std::move(mail));
  co_return;
}

class RecordingMetrics::Value final : public Counter {
 public:
  void add(double v) override { value += v; }
  double value = 0;
};

Counter& RecordingMetrics::counter(const std::string& name, const std::string&) {
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<Value>();
  return *slot;
}

double RecordingMetrics::value(const std::string& name) const {
  auto it = counters_.find(name);
  return it == counters_.end() ? 0 : it->second->value;
}

namespace {
// No territory at all: a plugin test that needs some gives its own Territories.
class NoTerritories final : public Territories {
 public:
  const Commune* commune(std::string_view) const override { return nullptr; }
  std::vector<const Commune*> communes_by_postal_code(std::string_view) const override {
    return {};
  }
  std::vector<const Commune*> search(std::string_view, std::size_t) const override { return {}; }
  const Department* department(std::string_view) const override { return nullptr; }
  const Region* region(std::string_view) const override { return nullptr; }
  std::vector<const Department*> departments() const override { return {}; }
  std::vector<const Region*> regions() const override { return {}; }
  const Epci* epci(std::string_view) const override { return nullptr; }
};

class NoAttachments final : public Attachments {
 public:
  Task<std::optional<Attachment>> find(std::string) override { co_return std::nullopt; }
  Task<Response> download(std::string) override {
    throw HttpError(404, "not_found", "no such file");
    co_return Response{};
  }
  Task<void> remove(std::string) override { co_return; }
};
}  // namespace

struct FakeHost::Parts {
  NoTerritories territories;
  NoAttachments attachments;
};

FakeHost::FakeHost(const std::string& plugin, json::object config)
    : db(plugin), config_(std::move(config)), parts_(std::make_unique<Parts>()) {}

FakeHost::~FakeHost() = default;

Task<void> FakeHost::sleep(std::chrono::milliseconds duration) {
  clock.advance(duration);
  co_return;
}

Task<void> FakeHost::offload(std::function<void()> work) {
  work();
  co_return;
}

const Territories& FakeHost::territories() { return parts_->territories; }
Attachments& FakeHost::attachments() { return parts_->attachments; }

std::string FakeHost::identity_token(const Identity& identity, const std::string& audience) {
  return "test-token:" + identity.subject + ":" + audience;
}

void FakeHost::announce(const std::string& message) {
  if (message.size() > kMaxAnnouncement)
    throw std::invalid_argument("announcement of " + std::to_string(message.size()) + " bytes");
  announcements.push_back(message);
}

void FakeHost::on_announcement(std::function<Task<void>(std::string)> handler) {
  on_announcement_ = std::move(handler);
}

void FakeHost::deliver_announcement(const std::string& message) {
  if (on_announcement_) run(on_announcement_(message));
}

void FakeHost::offer(const std::string& name, Service& service) {
  if (services.count(name)) throw std::invalid_argument("service " + name + " is offered already");
  services[name] = std::shared_ptr<Service>(&service, [](Service*) {});
}

std::shared_ptr<Service> FakeHost::lookup(const std::string& name) {
  auto it = services.find(name);
  return it == services.end() ? nullptr : it->second;
}

Identity user(const std::string& role, const std::string& commune_insee) {
  Identity id;
  id.subject = "test-" + role;
  id.display_name = "Test " + role;
  id.email = role + "@example.test";
  id.roles = {role};
  id.commune_insee = commune_insee;
  id.organisation = commune_insee;
  id.provider = "local";
  id.every_service = true;
  return id;
}

// ---- PluginHarness --------------------------------------------------------------------------

namespace {
// The section with the schema's defaults filled in; durations and paths as the gateway gives
// them (milliseconds, absolute paths) are expected from the test.
json::object checked_config(const std::vector<ConfigField>& schema, json::object given) {
  json::object out;
  for (const auto& field : schema) {
    auto* value = given.if_contains(field.name);
    if (!value || value->is_null()) {
      if (field.required) throw std::invalid_argument("config." + field.name + " is required");
      out[field.name] = field.default_value;
      continue;
    }
    const bool fits = [&] {
      switch (field.type) {
        case ConfigType::string:
        case ConfigType::path:
          return value->is_string();
        case ConfigType::integer:
        case ConfigType::duration:
          return value->is_int64() || value->is_uint64();
        case ConfigType::number:
          return value->is_number();
        case ConfigType::boolean:
          return value->is_bool();
        case ConfigType::string_list:
          return value->is_array() &&
                 std::all_of(value->as_array().begin(), value->as_array().end(),
                             [](const json::value& v) { return v.is_string(); });
      }
      return false;
    }();
    if (!fits) throw std::invalid_argument("config." + field.name + " has the wrong type");
    out[field.name] = *value;
    given.erase(field.name);
  }
  for (const auto& [key, value] : given)
    if (!out.contains(key))
      throw std::invalid_argument("config." + std::string(key) + " is not a key of this plugin");
  return out;
}

std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t at = 1;
  while (at <= path.size()) {
    const auto end = std::min(path.find('/', at), path.size());
    out.emplace_back(path.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
               hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool match(const std::string& pattern, const std::string& path,
           std::map<std::string, std::string>& params) {
  const auto want = segments(pattern), have = segments(path);
  if (want.size() != have.size()) return false;
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i];
    if (w.size() > 2 && w.front() == '{' && w.back() == '}') {
      if (have[i].empty()) return false;
      found[w.substr(1, w.size() - 2)] = decode(have[i]);
    } else if (w != have[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

// A streaming route's body in a test: the bytes given, a piece at a time.
class MemoryBody final : public BodyStream {
 public:
  explicit MemoryBody(std::string bytes) : bytes_(std::move(bytes)) {}
  Task<std::size_t> read(std::span<char> into) override {
    const std::size_t n = std::min(into.size(), bytes_.size() - at_);
    std::copy_n(bytes_.data() + at_, n, into.data());
    at_ += n;
    co_return n;
  }

 private:
  std::string bytes_;
  std::size_t at_ = 0;
};

// A streamed answer read to its end, into the body.
Task<Response> read_whole(Response r) {
  std::string body;
  std::array<char, 16384> chunk;
  for (;;) {
    const std::size_t n = co_await r.stream->read(chunk);
    if (n == 0) break;
    body.append(chunk.data(), n);
  }
  r.stream.reset();
  r.body = std::move(body);
  co_return r;
}

Response error(int status, const std::string& code, const std::string& message) {
  return Response::json(json::object{{"error", json::object{{"code", code}, {"message", message}}}},
                        status);
}
}  // namespace

PluginHarness::PluginHarness(Plugin& plugin, json::object config)
    : plugin_(plugin), name_(plugin.info().name) {
  host_ = std::make_unique<FakeHost>(name_, checked_config(plugin.config_schema(), config));
  host_->db.migrate(plugin.migrations());
  run(plugin.start(*host_));
  routes_ = plugin.routes();
  for (auto& route : routes_) {
    route.path = route_path(name_, route.path);
    const std::string mount = "/api/" + name_;
    if (route.path != mount && route.path.rfind(mount + "/", 0) != 0)
      throw std::invalid_argument("route " + route.path + " must be under " + mount + "/");
  }
}

PluginHarness::~PluginHarness() {
  try {
    run(plugin_.stop());
  } catch (...) {
  }
}

Response PluginHarness::call(const std::string& method, const std::string& target, std::string body,
                             std::optional<Identity> identity) {
  Request request;
  request.method = method;
  const auto q = target.find('?');
  request.path = target.substr(0, q);
  if (q != std::string::npos) {
    request.raw_query = target.substr(q + 1);
    std::string_view query(target);
    query.remove_prefix(q + 1);
    while (!query.empty()) {
      const auto amp = std::min(query.find('&'), query.size());
      const auto pair = query.substr(0, amp);
      const auto eq = std::min(pair.find('='), pair.size());
      request.query[decode(pair.substr(0, eq))] =
          eq < pair.size() ? decode(pair.substr(eq + 1)) : std::string();
      query.remove_prefix(std::min(amp + 1, query.size()));
    }
  }
  request.body = std::move(body);
  request.identity = std::move(identity);
  request.request_id = "test-request";
  const Route* found = nullptr;
  bool path_known = false;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    if (!match(route.path, request.path, params)) continue;
    path_known = true;
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      found = &route;
      request.path_params = std::move(params);
      break;
    }
  }
  if (!found)
    return path_known ? error(405, "method_not_allowed", "method not allowed")
                      : error(404, "not_found", "no such route");
  if (!found->roles.empty()) {
    if (!request.identity) return error(401, "unauthenticated", "log in first");
    const bool any = found->roles == std::vector<std::string>{"*"};
    const bool allowed =
        any || std::any_of(found->roles.begin(), found->roles.end(),
                           [&](const std::string& r) { return request.identity->has_role(r); });
    if (!allowed) return error(403, "forbidden", "your role does not allow this");
    if (found->needs_grant && !request.identity->may_use(name_))
      return error(403, "not_granted", "your organisation does not grant you this service");
  }
  std::unique_ptr<MemoryBody> streamed;
  if (found->streams_body && !request.body.empty()) {
    streamed = std::make_unique<MemoryBody>(std::move(request.body));
    request.body.clear();
    request.body_stream = streamed.get();
  }
  try {
    Response answer = run(found->handler(std::move(request)));
    if (answer.stream) answer = run(read_whole(std::move(answer)));
    return answer;
  } catch (const HttpError& e) {
    return error(e.status(), e.code(), e.what());
  } catch (const std::exception& e) {
    host_->log.log(Logger::Level::error, std::string("handler failed: ") + e.what());
    return error(500, "internal_error", "internal error");
  }
}

std::optional<json::value> PluginHarness::widget(const Identity& identity) {
  return run(plugin_.widget(identity));
}

}  // namespace passerelle::testing
