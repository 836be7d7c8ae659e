// directorates: the bank's regional directorates and their contacts; which one serves a
// commune, department, region or postal code; operators edit them through the API.
#include "directorate.hpp"
#include "snapshot_cell.hpp"

#include "directorates_service.hpp"

#include "passerelle/async_mutex.hpp"
#include "passerelle/sdk.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>

namespace passerelle::plugins::directorates {

namespace json = boost::json;

namespace {
// The directorates as last read from the store, with the answers of the read routes built
// once: serialising a directorate (a JSON object of some 40 values) on every GET of /mine cost
// about a third of that route's allocations and a sixth of its CPU time.
struct Directory {
  std::vector<Directorate> all;      // by id
  std::vector<std::string> bodies;   // bodies[i]: all[i] as JSON text
  std::vector<std::string> tags;     // tags[i]: a strong ETag of bodies[i]
  std::vector<json::value> widgets;  // widgets[i]: the dashboard widget of all[i]
  std::string list_body;             // every directorate, as GET /api/directorates answers
  std::unordered_map<std::string, std::size_t> by_id;
  std::unordered_map<std::string, std::size_t> by_department;  // as for_department() finds
};
using Snapshot = std::shared_ptr<const Directory>;

// FNV-1a, 64 bits, in 13 base-32 digits: a tag of the bytes themselves, so that it changes
// whenever they do (a version number restarts when a directorate is deleted and created
// again), and short enough to stay in a std::string without an allocation.
std::string content_tag(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuv";
  std::string tag(15, '"');
  for (std::size_t i = 13; i > 0; --i, h >>= 5) tag[i] = kDigits[h & 31];
  return tag;
}

// The dashboard widget of a directorate: made once per snapshot, copied per page.
json::value widget_json(const Directorate& d) {
  json::object w{{"title", "Votre direction régionale"}, {"directorate", to_json(d)}};
  if (!d.contacts.empty()) w["contact"] = to_json(d.contacts.front());
  return w;
}

Snapshot make_directory(std::vector<Directorate> all) {
  auto d = std::make_shared<Directory>();
  d->all = std::move(all);
  d->list_body = "{\"directorates\":[";
  for (std::size_t i = 0; i < d->all.size(); ++i) {
    const Directorate& one = d->all[i];
    d->bodies.push_back(json::serialize(to_json(one)));
    d->tags.push_back(content_tag(d->bodies.back()));
    d->widgets.push_back(widget_json(one));
    if (i) d->list_body += ',';
    d->list_body += d->bodies.back();
    d->by_id.emplace(one.id, i);
    for (const auto& dep : one.departments) d->by_department.emplace(dep, i);  // first wins
  }
  d->list_body += "]}";
  return d;
}

// Whether If-None-Match names `tag` (weak comparison, RFC 9110 §13.1.2) or is "*".
bool none_match_hits(std::string_view header, std::string_view tag) {
  if (header == "*") return true;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == tag) return true;
  }
  return false;
}

// A prebuilt JSON body (a copy of the snapshot's text: the Response owns its body).
Response json_body(const std::string& body, int status = 200) {
  Response r;
  r.status = status;
  r.body = body;
  return r;
}

// Times are computed here and stored as integer epoch seconds (portable SQL).
std::int64_t epoch_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Inserts or replaces one directorate (the seed): ON CONFLICT, which PostgreSQL has too (not
// INSERT OR REPLACE).
Statement upsert(const Directorate& d) {
  return {
      "INSERT INTO directorates_directorates (id, document, updated_at, version)"
      " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET document = excluded.document,"
      " updated_at = excluded.updated_at, version = excluded.version",
      {d.id, json::serialize(to_json(d)), epoch_seconds(), d.version}};
}

// Writes `d` on the condition that the store holds version `based_on` of it (0: that it holds
// none): another instance's write since, which this one's snapshot may not show yet, makes it
// change no row.
Statement conditional_write(const Directorate& d, std::int64_t based_on) {
  if (based_on == 0)
    return {
        "INSERT INTO directorates_directorates (id, document, updated_at, version)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
        {d.id, json::serialize(to_json(d)), epoch_seconds(), d.version}};
  return {
      "UPDATE directorates_directorates SET document = ?2, updated_at = ?3, version = ?4"
      " WHERE id = ?1 AND version = ?5",
      {d.id, json::serialize(to_json(d)), epoch_seconds(), d.version, based_on}};
}

std::string etag(const Directorate& d) { return "\"" + std::to_string(d.version) + "\""; }

// A change based on an older read is a conflict: If-Match, or the version in the body, must
// name the version stored now (neither given: the change applies to whatever is stored).
void check_version(const Request& r, const Directorate& stored, std::int64_t claimed = 0) {
  const auto if_match = r.header("if-match");
  const bool matches =
      !if_match || *if_match == "*" || if_match->find(etag(stored)) != std::string::npos;
  if (!matches || (claimed != 0 && claimed != stored.version))
    throw HttpError(409, "conflict",
                    "directorate " + stored.id + " changed since it was read (it is at version " +
                        std::to_string(stored.version) + "): read it again");
}

Response with_etag(Response response, const Directorate& d) {
  response.headers.emplace_back("ETag", etag(d));
  return response;
}

json::object list_json(const std::vector<const Directorate*>& items) {
  json::array out;
  for (const auto* d : items) out.push_back(to_json(*d));
  return {{"directorates", std::move(out)}};
}
}  // namespace

class DirectoratesPlugin final : public Plugin, public ::passerelle::directorates::Lookup {
 public:
  PluginInfo info() const override {
    return {"directorates", "1.0.0", "Regional directorates of the bank and their contacts."};
  }

  std::vector<ConfigField> config_schema() const override {
    return {
        {"data_file", ConfigType::path, true, nullptr,
         "YAML seed of the directorates (config/directorates.yaml), read when the store has none"}};
  }

  // Migration 1 was written for SQLite before the portable-SQL rules (a strftime default); it
  // stays as applied, and PostgreSQL gets the final shape directly. Migration 2 brings SQLite to
  // that shape. New migrations: one portable `sql` text.
  std::vector<Migration> migrations() const override {
    Migration table{1, "", {}};
    table.sql_by_dialect["sqlite"] =
#include "migrations/001_directorates.inc"
        ;
    table.sql_by_dialect["postgresql"] =
#include "migrations/001_directorates_postgresql.inc"
        ;
    Migration epoch_times{2, "", {}};
    epoch_times.sql_by_dialect["sqlite"] =
#include "migrations/002_updated_at_sqlite.inc"
        ;
    epoch_times.sql_by_dialect["postgresql"] = "";  // migration 1 made it so already
    Migration version{3,
#include "migrations/003_version.inc"
                      ,
                      {}};
    return {table, epoch_times, version};
  }

  Task<void> start(Host& host) override {
    host_ = &host;
    Statement count{"SELECT count(*) FROM directorates_directorates", {}};
    const QueryResult existing = co_await host.database().query(std::move(count));
    if (std::get<std::int64_t>(existing.rows.at(0).at(0)) == 0) {
      // First start: the seed file must be whole and consistent, or nothing is stored.
      const std::string file(host.config().at("data_file").as_string());
      std::vector<Directorate> seed;
      std::function<void()> read = [&seed, &file] {
        seed = load_yaml(file);
      };  // a file: off the I/O thread
      co_await host.offload(std::move(read));
      // Against the imported territories, and the official list for what they lack.
      if (auto problems = coverage_problems(seed, host.territories()); !problems.empty()) {
        std::string all;
        for (std::size_t i = 0; i < problems.size() && i < 5; ++i)
          all += (i ? "; " : "") + problems[i];
        if (problems.size() > 5) all += "; and " + std::to_string(problems.size() - 5) + " more";
        throw std::runtime_error(file + ": " + all);
      }
      std::vector<Statement> inserts;
      for (auto& d : seed) {
        d.version = 1;
        inserts.push_back(upsert(d));
      }
      co_await host.database().transaction(std::move(inserts));
      host.logger().info("seeded " + std::to_string(seed.size()) + " directorates from " + file);
    }
    // Rows stored before migration 3 have their version in the document only.
    Statement unversioned{"SELECT id, document FROM directorates_directorates WHERE version = 0",
                          {}};
    const QueryResult old = co_await host.database().query(std::move(unversioned));
    std::vector<Statement> versions;
    for (const auto& row : old.rows) {
      const Directorate d = directorate_from_document(std::get<std::string>(row[1]));
      versions.push_back(
          {"UPDATE directorates_directorates SET version = ?2"
           " WHERE id = ?1 AND version = 0",
           {std::get<std::string>(row[0]), std::max<std::int64_t>(d.version, 1)}});
    }
    if (!versions.empty()) co_await host.database().transaction(std::move(versions));
    co_await reload();
    for (const auto& problem : coverage_problems(snapshot()->all, host.territories()))
      host.logger().warn(problem);
    host.offer(::passerelle::directorates::kService,
               static_cast<::passerelle::directorates::Lookup&>(*this));
    // Another instance sharing the store changed a directorate: read them all again, in turn
    // with this instance's own writes (a read begun before a write would publish older data).
    host.on_announcement([this](std::string) -> Task<void> {
      AsyncMutex::Lock lock = co_await writes_.lock();
      co_await reload();
    });
  }

  static Route read(std::string path, std::vector<std::string> roles, Handler handler) {
    return {.method = "GET",
            .path = std::move(path),
            .roles = std::move(roles),
            .handler = std::move(handler),
            .immediate = true};
  }

  std::vector<Route> routes() override {
    const std::vector<std::string> anyone{"*"}, operators{"operator"};
    return {
        // The reads answer from the published snapshot and never wait: immediate.
        read("/api/directorates", anyone, [this](Request) { return list(); }),
        read("/api/directorates/for", anyone,
             [this](Request r) { return for_place(std::move(r)); }),
        read("/api/directorates/mine", anyone, [this](Request r) { return mine(std::move(r)); }),
        read("/api/directorates/coverage", operators, [this](Request) { return coverage(); }),
        read("/api/directorates/{id}", anyone, [this](Request r) { return get(std::move(r)); }),
        {"POST", "/api/directorates", operators,
         [this](Request r) { return create(std::move(r)); }},
        {"PUT", "/api/directorates/{id}", operators,
         [this](Request r) { return replace(std::move(r)); }},
        {"DELETE", "/api/directorates/{id}", operators,
         [this](Request r) { return remove(std::move(r)); }},
        {"POST", "/api/directorates/{id}/contacts", operators,
         [this](Request r) { return add_contact(std::move(r)); }},
        {"DELETE", "/api/directorates/{id}/contacts/{contact}", operators,
         [this](Request r) { return remove_contact(std::move(r)); }},
    };
  }

  bool widget_immediate() const override { return true; }  // from the snapshot, never waits

  Task<std::optional<json::value>> widget(Identity identity) override {
    const auto all = directory_.read();  // used before any co_await
    const std::ptrdiff_t i = mine_index(identity, *all);
    if (i < 0) co_return std::nullopt;
    co_return all->widgets[static_cast<std::size_t>(i)];
  }

 private:
  // To hold across a co_await (writes); the read routes use directory_.read().
  Snapshot snapshot() const { return directory_.shared(); }

  // A write once begun is carried through, the snapshot's refresh included, even when the
  // handler's deadline passes meanwhile (the client has had its 504): a write stored but not
  // in the snapshot would let the next writer pass an If-Match against the older version.
  static Task<void> finish_even_if_cancelled() {
    co_await boost::asio::this_coro::throw_if_cancelled(false);
  }

  Task<void> reload() {
    Statement all{"SELECT document FROM directorates_directorates ORDER BY id", {}};
    const QueryResult rows = co_await host_->database().query(std::move(all));
    std::vector<Directorate> fresh;
    for (const auto& row : rows.rows)
      fresh.push_back(directorate_from_document(std::get<std::string>(row[0])));
    directory_.publish(make_directory(std::move(fresh)));
  }

  // ::passerelle::directorates::Lookup, for the other plugins: from the snapshot, any thread.
  std::optional<::passerelle::directorates::Contact> for_commune(
      const std::string& insee) const override {
    const Commune* c = host_->territories().commune(insee);
    if (!c) return std::nullopt;
    const auto all = directory_.read();
    const auto it = all->by_department.find(c->department);
    if (it == all->by_department.end()) return std::nullopt;
    const Directorate& d = all->all[it->second];
    return ::passerelle::directorates::Contact{d.id, d.name, d.address, d.phone, d.email};
  }

  // The index in `all` of the directorate of the caller's commune, or -1.
  std::ptrdiff_t mine_index(const Identity& who, const Directory& all) const {
    const Commune* c = host_->territories().commune(who.commune_insee);
    if (!c) return -1;
    const auto it = all.by_department.find(c->department);
    return it == all.by_department.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
  }

  // Refuses a department that another directorate already covers, or one outside the region.
  void check_against_others(const Directorate& d, const std::vector<Directorate>& all) const {
    for (std::size_t i = 0; i < d.departments.size(); ++i) {
      const std::string& dep = d.departments[i];
      const std::string field = "departments[" + std::to_string(i) + "]";
      const Directorate* owner = for_department(all, dep);
      if (owner && owner->id != d.id)
        throw HttpError(422, "invalid_field",
                        field + ": department " + dep + " is covered by " + owner->id);
      const auto known = known_department(dep, host_->territories());
      if (!known) throw HttpError(422, "invalid_field", field + ": unknown department " + dep);
      if (known->region != d.region)
        throw HttpError(422, "invalid_field",
                        field + ": department " + dep + " is not in region " + d.region);
    }
  }

  Task<Response> list() { co_return json_body(directory_.read()->list_body); }

  Task<Response> get(Request r) {
    const auto all = directory_.read();
    const auto it = all->by_id.find(r.param("id"));
    if (it == all->by_id.end())
      throw HttpError(404, "not_found", "no directorate " + r.param("id"));
    co_return with_etag(json_body(all->bodies[it->second]), all->all[it->second]);
  }

  Task<Response> for_place(Request r) {
    const auto view = directory_.read();  // used before any co_await
    const std::vector<Directorate>& all = view->all;
    const Territories& t = host_->territories();
    std::set<std::string> departments;
    if (auto commune = r.query_param("commune")) {
      const Commune* c = t.commune(*commune);
      if (!c)
        throw HttpError(404, "not_found", "no commune with INSEE code " + commune->substr(0, 10));
      departments.insert(c->department);
    } else if (auto department = r.query_param("department")) {
      departments.insert(*department);
    } else if (auto postal = r.query_param("postal_code")) {
      for (const Commune* c : t.communes_by_postal_code(*postal)) departments.insert(c->department);
      if (departments.empty())
        throw HttpError(404, "not_found", "no commune with postal code " + postal->substr(0, 10));
    } else if (auto region = r.query_param("region")) {
      std::vector<const Directorate*> items;
      for (const auto& d : all)
        if (d.region == *region) items.push_back(&d);
      if (items.empty())
        throw HttpError(404, "not_found", "no directorate in region " + region->substr(0, 10));
      co_return Response::json(list_json(items));
    } else {
      throw HttpError(400, "bad_request", "give commune, department, region or postal_code");
    }
    std::vector<const Directorate*> items;
    for (const auto& dep : departments)
      if (const Directorate* d = for_department(all, dep)) items.push_back(d);
    if (items.empty()) throw HttpError(404, "not_found", "no directorate covers this place");
    co_return Response::json(list_json(items));
  }

  Task<Response> mine(Request r) {
    if (r.identity->commune_insee.empty())
      throw HttpError(404, "no_commune", "your account has no commune: ask an operator to set it");
    const auto all = directory_.read();  // used before any co_await
    const std::ptrdiff_t i = mine_index(*r.identity, *all);
    if (i < 0) throw HttpError(404, "not_found", "no directorate covers your commune");
    const auto at = static_cast<std::size_t>(i);
    // The answer depends on the caller: a cache keeps it for them only (private) and asks
    // again each time (no-cache), when a 304 spares the body; the tag names the bytes.
    const std::string& tag = all->tags[at];
    Response res;
    if (const auto given = r.header("if-none-match"); given && none_match_hits(*given, tag))
      res.status = 304;
    else
      res.body = all->bodies[at];
    res.headers.reserve(2);
    res.headers.emplace_back("ETag", tag);
    res.headers.emplace_back("Cache-Control", "private, no-cache");
    co_return res;
  }

  Task<Response> coverage() {
    json::array problems;
    for (const auto& p : coverage_problems(directory_.read()->all, host_->territories()))
      problems.emplace_back(p);
    co_return Response::json(
        json::object{{"complete", problems.empty()}, {"problems", std::move(problems)}});
  }

  // Saves one directorate, based on version `based_on` of it (0: a new one), and refreshes the
  // snapshot; the caller holds the write lock. Another instance's write since (the store holds
  // another version) is a 409, and the snapshot is refreshed all the same.
  Task<void> save(Directorate d, std::int64_t based_on) {
    co_await finish_even_if_cancelled();
    Statement statement = conditional_write(d, based_on);
    const QueryResult done = co_await host_->database().query(std::move(statement));
    co_await reload();
    if (done.changes == 0)
      throw HttpError(
          409, "conflict",
          "directorate " + d.id +
              (based_on == 0 ? " exists" : " changed since it was read: read it again"));
    host_->announce("changed");
  }

  Task<Response> store(Directorate d, bool create, Request r) {
    // Writes wait their turn, so that the department checks see every earlier write.
    AsyncMutex::Lock lock = co_await writes_.lock();
    const Snapshot snap = snapshot();
    const std::vector<Directorate>& all = snap->all;
    const auto stored =
        std::find_if(all.begin(), all.end(), [&](const auto& x) { return x.id == d.id; });
    const bool exists = stored != all.end();
    if (create && exists) throw HttpError(409, "conflict", "directorate " + d.id + " exists");
    if (!create && !exists) throw HttpError(404, "not_found", "no directorate " + d.id);
    if (exists) check_version(r, *stored, d.version);
    check_against_others(d, all);
    assign_contact_ids(d, exists ? &*stored : nullptr);
    d.version = exists ? stored->version + 1 : 1;
    const std::string id = d.id;
    Response response = with_etag(Response::json(to_json(d), create ? 201 : 200), d);
    co_await save(std::move(d), exists ? stored->version : 0);
    host_->logger().info(std::string(create ? "created" : "updated") + " directorate " + id);
    co_return response;
  }

  Task<Response> create(Request r) {
    Directorate d = directorate_from_json(r.body);
    co_return co_await store(std::move(d), true, std::move(r));
  }

  Task<Response> replace(Request r) {
    Directorate d = directorate_from_json(r.body);
    if (d.id != r.param("id"))
      throw HttpError(422, "invalid_field", "id: must be " + r.param("id"));
    co_return co_await store(std::move(d), false, std::move(r));
  }

  Task<Response> remove(Request r) {
    AsyncMutex::Lock lock = co_await writes_.lock();
    const Directorate stored = current(r.param("id"));
    check_version(r, stored);
    co_await finish_even_if_cancelled();
    Statement del{"DELETE FROM directorates_directorates WHERE id = ?1 AND version = ?2",
                  {r.param("id"), stored.version}};
    const QueryResult done = co_await host_->database().query(std::move(del));
    co_await reload();
    if (done.changes == 0 && !directory_.read()->by_id.contains(r.param("id")))
      throw HttpError(404, "not_found", "no directorate " + r.param("id"));  // gone meanwhile
    if (done.changes == 0)
      throw HttpError(409, "conflict",
                      "directorate " + r.param("id") + " changed since it was read: read it again");
    host_->announce("changed");
    host_->logger().warn("deleted directorate " + r.param("id") +
                         ": its departments are no longer covered");
    Response res;
    res.status = 204;
    co_return res;
  }

  // The directorate as it is now, read under the write lock (so no other edit is lost).
  Directorate current(const std::string& id) const {
    const auto all = directory_.read();
    if (const auto it = all->by_id.find(id); it != all->by_id.end()) return all->all[it->second];
    throw HttpError(404, "not_found", "no directorate " + id);
  }

  Task<Response> add_contact(Request r) {
    Contact c = contact_from_json(r.body);
    AsyncMutex::Lock lock = co_await writes_.lock();
    Directorate d = current(r.param("id"));
    check_version(r, d);
    if (d.contacts.size() >= kMaxContacts)
      throw HttpError(422, "invalid_field", "contacts: at most " + std::to_string(kMaxContacts));
    c.id = next_contact_id(d);  // whatever id the body had
    d.contacts.push_back(c);
    const std::int64_t based_on = d.version++;
    co_await save(std::move(d), based_on);
    co_return Response::json(to_json(c), 201);
  }

  Task<Response> remove_contact(Request r) {
    AsyncMutex::Lock lock = co_await writes_.lock();
    Directorate d = current(r.param("id"));
    check_version(r, d);
    const auto before = d.contacts.size();
    std::erase_if(d.contacts,
                  [&](const Contact& c) { return std::to_string(c.id) == r.param("contact"); });
    if (d.contacts.size() == before)
      throw HttpError(404, "not_found", "no contact " + r.param("contact"));
    const std::int64_t based_on = d.version++;
    co_await save(std::move(d), based_on);
    Response res;
    res.status = 204;
    co_return res;
  }

  Host* host_ = nullptr;
  SnapshotCell<Directory> directory_{make_directory({})};
  AsyncMutex writes_;
};

}  // namespace passerelle::plugins::directorates

PASSERELLE_PLUGIN(passerelle::plugins::directorates::DirectoratesPlugin)
