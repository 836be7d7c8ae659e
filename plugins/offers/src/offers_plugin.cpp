// offers: the bank's engineering and financing offers, matched to the caller's territory by
// their eligibility rules (rules.hpp), explained in French; programmes' member lists imported
// from CSV; an élu's or agent's interest routed, as a lead, to the directorate in charge of
// their commune (asked of the directorates plugin through the host).
#include "catalogue.hpp"
#include "financing.hpp"
#include "rules.hpp"

#include "directorates_service.hpp"
#include "passerelle/async_mutex.hpp"
#include "passerelle/sdk.hpp"
#include "values.hpp"
#include "yaml_file.hpp"

#include <sys/random.h>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace passerelle::plugins::offers {

namespace json = boost::json;

namespace {

std::int64_t today() { return now_seconds() / 86400; }

struct Programme {
  std::string label;
  std::string sample_csv;  // the demo's list, loaded when none was imported
  std::unordered_set<std::string> members;
};

// What requests read: the offers, their compiled rules, the programmes. Replaced whole after
// a write; readers hold the pointer they took.
struct Catalogue {
  Rules rules;
  std::vector<Offer> offers;  // by id; archived ones too
  std::vector<int> rule_of;   // rule_of[i]: offers[i]'s compiled rule
  std::map<std::string, Programme> programmes;
  // The dashboard's offers of a commune on a day ("CODE DAY"), made once: they change only
  // with this catalogue (replaced whole) or the day (rules' date windows). Bounded.
  static constexpr std::size_t kCardsKept = 50'000;
  mutable std::mutex cards_mutex;
  mutable std::unordered_map<std::string, json::array> cards;
};

// A programme list from CSV: one INSEE code (a commune) or SIREN (an intercommunality) per line;
// '#' comments, blank lines and a header "insee" skipped. Every error with its line; nothing when
// one is wrong.
std::vector<std::string> members_of_csv(const std::string& text, const Territories& territories,
                                        std::vector<std::string>& errors) {
  std::vector<std::string> codes;
  std::set<std::string> seen;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a BOM
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::string code = line.substr(first, line.find_last_not_of(" \t;,") - first + 1);
    if (code == "insee" || code == "code_insee" || code == "INSEE") continue;
    const std::string at = "ligne " + std::to_string(number) + " : ";
    if (code.size() > 10 || code.find_first_of(";, \t") != std::string::npos) {
      errors.push_back(at + "un seul code INSEE par ligne");
    } else if (!territories.commune(code) && !territories.epci(code)) {
      errors.push_back(at + code + " n'est ni une commune ni une intercommunalité connue");
    } else if (!seen.insert(code).second) {
      errors.push_back(at + code + " en double");
    } else {
      codes.push_back(code);
    }
    if (errors.size() >= 20) break;
  }
  return codes;
}

}  // namespace

class OffersPlugin final : public Plugin {
 public:
  PluginInfo info() const override {
    return {"offers", "0.1.0",
            "Engineering and financing offers matched to the caller's territory, with leads to "
            "the regional directorates."};
  }

  std::vector<ConfigField> config_schema() const override {
    return {{"catalogue_file", ConfigType::path, true, nullptr,
             "YAML: the programmes and the seed of offers (config/offers.yaml)"}};
  }

  std::vector<Migration> migrations() const override {
    return {{1,
#include "migrations/001_offers.inc"
             ,
             {}},
            {2,
#include "migrations/002_requests.inc"
             ,
             {}}};
  }

  Task<void> start(Host& host) override {
    host_ = &host;
    file_ = std::string(host.config().at("catalogue_file").as_string());
    // The file: read and checked off the I/O threads; a wrong one stops the start, naming
    // FILE:LINE:COL.
    auto seed = std::make_shared<std::vector<Offer>>();
    auto programmes = std::make_shared<std::map<std::string, Programme>>();
    std::function<void()> read = [seed, programmes, file = file_] {
      read_file(file, *seed, *programmes);
    };
    co_await host.offload(std::move(read));
    programmes_ = *programmes;
    Statement count{"SELECT count(*) FROM offers_offers", {}};
    const QueryResult stored = co_await host.database().query(std::move(count));
    if (int_of(stored.rows.at(0).at(0)) == 0) {
      std::vector<Statement> inserts;
      for (const Offer& o : *seed) inserts.push_back(upsert(o));
      co_await host.database().transaction(std::move(inserts));
      host.logger().info("seeded " + std::to_string(seed->size()) + " offers from " + file_);
    }
    co_await load_samples();
    co_await reload();
    co_await load_requesting();
    // Another instance changed the catalogue ("catalogue"), or a commune made its first
    // financing request there ("requests CODE"); "*": some news may have been lost.
    host.on_announcement([this](std::string message) -> Task<void> {
      if (message.rfind("requests ", 0) == 0) {
        const std::lock_guard lock(requesting_mutex_);
        requesting_.insert(message.substr(9));
        co_return;
      }
      AsyncMutex::Lock lock = co_await writes_.lock();
      co_await reload();
      if (message == "*") co_await load_requesting();
    });
  }

  std::vector<Route> routes() override {
    const std::vector<std::string> requesters{"elu", "agent"}, operators{"operator"},
        parties{"elu", "agent", "advisor"};
    Route import{"POST", "/api/offers/programmes/{id}/members", operators,
                 [this](Request r) { return import_members(std::move(r)); }};
    import.accepts = {"text/csv", "text/plain"};
    return {
        {"GET", "/api/offers", {"*"}, [this](Request r) { return list(std::move(r)); }},
        {"GET",
         "/api/offers/eligible",
         {"*"},
         [this](Request r) { return eligible(std::move(r)); }},
        {"GET", "/api/offers/programmes", operators,
         [this](Request r) { return programmes(std::move(r)); }},
        import,
        {"GET",
         "/api/offers/leads",
         {"elu", "agent", "advisor", "operator"},
         [this](Request r) { return leads(std::move(r)); }},
        {"GET", "/api/offers/{id}", {"*"}, [this](Request r) { return get(std::move(r)); }},
        {"POST", "/api/offers", operators, [this](Request r) { return create(std::move(r)); }},
        {"PUT", "/api/offers/{id}", operators, [this](Request r) { return update(std::move(r)); }},
        {"POST", "/api/offers/{id}/archive", operators,
         [this](Request r) { return archive(std::move(r)); }},
        {"POST", "/api/offers/{id}/interest", requesters,
         [this](Request r) { return interest(std::move(r)); }},
        {"POST", "/api/offers/leads/{id}/request", requesters,
         [this](Request r) { return open_request(std::move(r)); }},
        {"GET", "/api/offers/requests", parties,
         [this](Request r) { return list_requests(std::move(r)); }},
        {"GET", "/api/offers/requests/{id}", parties,
         [this](Request r) { return get_request(std::move(r)); }},
        {"PUT", "/api/offers/requests/{id}", requesters,
         [this](Request r) { return edit_request(std::move(r)); }},
        {"POST", "/api/offers/requests/{id}/{action}", parties,
         [this](Request r) { return move_request(std::move(r)); }},
        {.method = "POST",
         .path = "/api/offers/requests/{id}/documents",
         .roles = parties,
         .handler = [this](Request r) { return attach(std::move(r)); },
         .uploads = true,
         .before_upload = [this](Request r) { return may_attach(std::move(r)); }},
        {"GET", "/api/offers/requests/{id}/documents/{file}", parties,
         [this](Request r) { return document(std::move(r)); }},
    };
  }

  // The offers the caller's commune is eligible for, best first.
  Task<std::optional<json::value>> widget(Identity who) override {
    const Commune* commune = host_->territories().commune(who.commune_insee);
    if (!commune) co_return std::nullopt;
    const auto catalogue = current();
    const std::string key = commune->code + " " + std::to_string(today());
    json::array items;
    bool known = false;
    {
      const std::lock_guard lock(catalogue->cards_mutex);
      if (auto it = catalogue->cards.find(key); it != catalogue->cards.end()) {
        items = it->second;
        known = true;
      }
    }
    if (!known) {
      for (auto& entry : ranked(*catalogue, *commune)) {
        if (!entry.eligible || items.size() >= 5) continue;
        items.push_back(
            json::object{{"id", entry.offer->id},
                         {"title", entry.offer->title},
                         {"kind", entry.offer->kind},
                         {"reasons", json::array(entry.reasons.begin(), entry.reasons.end())}});
      }
      const std::lock_guard lock(catalogue->cards_mutex);
      if (catalogue->cards.size() >= Catalogue::kCardsKept) catalogue->cards.clear();
      catalogue->cards.emplace(key, items);
    }
    // The commune's financing requests under way, for its élus and agents: their statuses. The
    // store is asked only for a commune that made one (most did not: the card then waits for
    // nothing).
    bool requesting = false;
    {
      const std::lock_guard lock(requesting_mutex_);
      requesting = requesting_.contains(commune->code);
    }
    if ((!who.has_role("elu") && !who.has_role("agent")) || !requesting)
      co_return json::object{{"title", "Offres pour " + commune->name},
                             {"offers", std::move(items)}};
    Statement mine{
        std::string(kRequestColumns) + " WHERE commune = ?1 ORDER BY updated_at DESC, id LIMIT 5",
        {commune->code}};
    const QueryResult rows = co_await host_->database().query(std::move(mine));
    json::array requests;
    for (const auto& row : rows.rows) {
      const json::object one = request_json(row, *catalogue);
      requests.push_back(json::object{{"id", one.at("id")},
                                      {"offer_title", one.at("offer_title")},
                                      {"status", one.at("status")},
                                      {"decision", one.at("decision")}});
    }
    co_return json::object{{"title", "Offres pour " + commune->name},
                           {"offers", std::move(items)},
                           {"requests", std::move(requests)}};
  }

 private:
  // --- reading the catalogue ------------------------------------------------------------------

  static void read_file(const std::string& file, std::vector<Offer>& seed,
                        std::map<std::string, Programme>& programmes) {
    const YAML::Node root = yaml::load_file(file);
    const auto folder = std::filesystem::path(file).parent_path();
    for (const auto& p : root["programmes"]) {
      const std::string id = p["id"] ? p["id"].Scalar() : "";
      if (id.empty() || !p["label"])
        throw std::runtime_error(yaml::where(file, p) + "a programme needs an id and a label");
      if (programmes.contains(id))
        throw std::runtime_error(yaml::where(file, p) + "programme " + id + " is listed twice");
      Programme programme{p["label"].Scalar(), "", {}};
      if (p["sample_csv"]) programme.sample_csv = (folder / p["sample_csv"].Scalar()).string();
      programmes.emplace(id, std::move(programme));
    }
    Rules check;  // every rule compiled once here, so that a bad one names its line
    std::set<std::string> ids;
    for (const auto& node : root["offers"]) {
      Offer offer;
      try {
        offer = offer_from_json(json_of(node).as_object());
      } catch (const FieldError& e) {
        const std::string top = e.field().substr(0, e.field().find_first_of(".["));
        throw std::runtime_error(yaml::where(file, node[top] ? node[top] : node) + e.what());
      }
      try {
        check.compile(node["eligibility"], "eligibility",
                      [&](const std::string& p) { return programmes.contains(p); });
      } catch (const RuleError& e) {
        throw std::runtime_error(file + ":" + std::to_string(e.line()) + ":" +
                                 std::to_string(e.column()) + ": offer " + offer.id + ", " +
                                 e.what());
      }
      if (!ids.insert(offer.id).second)
        throw std::runtime_error(yaml::where(file, node) + "offer " + offer.id +
                                 " is listed twice");
      seed.push_back(std::move(offer));
    }
  }

  // The demo's sample lists, for programmes no list was imported for (clearly named so).
  Task<void> load_samples() {
    for (const auto& [id, programme] : programmes_) {
      if (programme.sample_csv.empty()) continue;
      Statement imported{"SELECT count(*) FROM offers_imports WHERE programme = ?1", {id}};
      if (int_of((co_await host_->database().query(std::move(imported))).rows.at(0).at(0)) > 0)
        continue;
      auto text = std::make_shared<std::string>();
      std::function<void()> read = [text, path = programme.sample_csv] {
        std::ifstream in(path);
        if (!in) throw std::runtime_error(path + ": cannot read the sample list");
        std::ostringstream all;
        all << in.rdbuf();
        *text = all.str();
      };
      co_await host_->offload(std::move(read));
      std::vector<std::string> errors;
      const auto codes = members_of_csv(*text, host_->territories(), errors);
      for (const auto& e : errors) host_->logger().warn(programme.sample_csv + ", " + e);
      auto writes = replace_members(id, codes, "sample", true);
      co_await host_->database().transaction(std::move(writes));
      host_->logger().info("programme " + id + ": demonstration sample of " +
                           std::to_string(codes.size()) + " communes (not the official list)");
    }
  }

  Task<void> reload() {
    Statement all{"SELECT document, version, archived, id FROM offers_offers ORDER BY id", {}};
    const QueryResult rows = co_await host_->database().query(std::move(all));
    Statement members{"SELECT programme, code FROM offers_members", {}};
    const QueryResult lists = co_await host_->database().query(std::move(members));
    auto next = std::make_shared<Catalogue>();
    next->programmes = programmes_;
    for (auto& [id, p] : next->programmes) p.members.clear();
    for (const auto& row : lists.rows)
      if (auto it = next->programmes.find(text_of(row[0])); it != next->programmes.end())
        it->second.members.insert(text_of(row[1]));
    for (const auto& row : rows.rows) {
      // An offer that no longer reads (a programme gone from the file, say) is left out and
      // logged: the others stay served.
      try {
        Offer offer = offer_from_json(json::parse(text_of(row[0])).as_object());
        offer.version = int_of(row[1]);
        offer.archived = int_of(row[2]) != 0;
        const int rule = compile(next->rules, offer, next->programmes);
        next->rule_of.push_back(rule);
        next->offers.push_back(std::move(offer));
      } catch (const std::exception& e) {
        host_->logger().error("offer " + text_of(row[3]) + " left out: " + e.what());
      }
    }
    catalogue_.store(std::move(next));
  }

  static int compile(Rules& rules, const Offer& offer,
                     const std::map<std::string, Programme>& programmes) {
    // The rule as JSON, read as YAML (JSON is its flow form): one compiler for both.
    return rules.compile(YAML::Load(json::serialize(offer.eligibility)), "eligibility",
                         [&](const std::string& p) { return programmes.contains(p); });
  }

  std::shared_ptr<const Catalogue> current() const { return catalogue_.load(); }

  // What offers are matched against: a commune, or an intercommunality (its SIREN as code).
  struct Territory {
    std::string code, name;
    bool epci = false;
    std::int64_t population = 0;
    std::string region, department;
  };

  struct Ranked {
    const Offer* offer;
    bool eligible;
    std::vector<std::string> reasons;
  };

  // Every offer not archived, for one commune: eligible ones first, those whose rule says the
  // most about the commune first among them (the most specific match), then by title.
  std::vector<Ranked> ranked(const Catalogue& c, const Commune& commune) const {
    return ranked(c, Territory{commune.code, commune.name, false, commune.population,
                               commune.region, commune.department});
  }

  // `theme`: the project's, when the caller gives one (rules' `theme` conditions).
  std::vector<Ranked> ranked(const Catalogue& c, const Territory& t,
                             const std::optional<std::string>& theme = std::nullopt) const {
    Place place =
        c.rules.place(t.epci, t.population, t.region, t.department, [&](const std::string& p) {
          const auto it = c.programmes.find(p);
          return it != c.programmes.end() && it->second.members.contains(t.code);
        });
    if (theme && !theme->empty()) c.rules.with_theme(place, *theme);
    const Names names{[this](const std::string& code) {
                        const Region* r = host_->territories().region(code);
                        return r ? r->name : code;
                      },
                      [this](const std::string& code) {
                        const Department* d = host_->territories().department(code);
                        return d ? d->name : code;
                      },
                      [&c](const std::string& id) {
                        const auto it = c.programmes.find(id);
                        return it == c.programmes.end() ? id : it->second.label;
                      }};
    std::vector<Ranked> out;
    for (std::size_t i = 0; i < c.offers.size(); ++i) {
      if (c.offers[i].archived) continue;
      Ranked r{&c.offers[i], false, {}};
      r.eligible = c.rules.explain(c.rule_of[i], place, today(), names, r.reasons);
      out.push_back(std::move(r));
    }
    std::stable_sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) {
      if (a.eligible != b.eligible) return a.eligible;
      if (a.reasons.size() != b.reasons.size()) return a.reasons.size() > b.reasons.size();
      return a.offer->title < b.offer->title;
    });
    return out;
  }

  const Offer* find(const Catalogue& c, const std::string& id) const {
    for (const auto& o : c.offers)
      if (o.id == id) return &o;
    return nullptr;
  }

  // --- routes ---------------------------------------------------------------------------------

  Task<Response> list(Request r) {
    const auto c = current();
    const auto kind = r.query_param("kind");
    const auto theme = r.query_param("theme");
    std::string q = r.query_param("q").value_or("");
    std::transform(q.begin(), q.end(), q.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    if (kind && std::find(kinds().begin(), kinds().end(), *kind) == kinds().end())
      throw HttpError(400, "bad_request", "kind: financing or engineering");
    json::array items;
    for (const auto& o : c->offers) {
      if (o.archived || (kind && o.kind != *kind)) continue;
      if (theme && std::find(o.themes.begin(), o.themes.end(), *theme) == o.themes.end()) continue;
      if (!q.empty()) {
        std::string hay = o.title + " " + o.summary + " " + o.body;
        std::transform(hay.begin(), hay.end(), hay.begin(),
                       [](unsigned char ch) { return std::tolower(ch); });
        if (hay.find(q) == std::string::npos) continue;
      }
      json::object item = to_json(o);
      item.erase("eligibility");
      item.erase("body");
      items.push_back(std::move(item));
    }
    co_return Response::json(json::object{{"offers", std::move(items)}});
  }

  Task<Response> get(Request r) {
    const auto c = current();
    const Offer* o = find(*c, r.param("id"));
    if (!o || o->archived) throw HttpError(404, "not_found", "no such offer");
    Response res = Response::json(to_json(*o));
    res.headers.emplace_back("ETag", "\"" + std::to_string(o->version) + "\"");
    co_return res;
  }

  // GET /api/offers/eligible[?commune=]: the caller's commune, or (advisors, operators) any.
  // GET /api/offers/eligible: for the caller's commune, or (?scope=epci) its intercommunality;
  // advisors and operators ask for any commune (?commune=) or intercommunality (?epci=).
  Task<Response> eligible(Request r) {
    const Identity& who = *r.identity;
    const bool staff = who.has_role("advisor") || who.has_role("operator");
    const auto asked_commune = r.query_param("commune");
    const auto asked_epci = r.query_param("epci");
    if ((asked_commune && *asked_commune != who.commune_insee) || asked_epci)
      if (!staff)
        throw HttpError(403, "forbidden", "only advisors and operators ask for another place");
    Territory place;
    if (asked_epci || r.query_param("scope") == std::optional<std::string>("epci")) {
      std::string siren = asked_epci.value_or("");
      if (!asked_epci) {
        const Commune* mine = host_->territories().commune(who.commune_insee);
        if (!mine)
          throw HttpError(422, "no_commune", "Votre compte n'est rattaché à aucune commune.");
        siren = mine->epci;
      }
      const Epci* e = host_->territories().epci(siren);
      if (!e) throw HttpError(404, "not_found", "no intercommunality " + siren);
      place = {e->siren, e->name, true, e->population, e->region, e->department};
    } else {
      const std::string code = asked_commune.value_or(who.commune_insee);
      const Commune* commune = host_->territories().commune(code);
      if (!commune)
        throw HttpError(
            code.empty() ? 422 : 404, code.empty() ? "no_commune" : "not_found",
            code.empty() ? "Votre compte n'est rattaché à aucune commune." : "no commune " + code);
      place = {commune->code,       commune->name,   false,
               commune->population, commune->region, commune->department};
    }
    const auto c = current();
    json::array items;
    for (auto& entry : ranked(*c, place, r.query_param("theme"))) {
      json::object item = to_json(*entry.offer);
      item.erase("eligibility");
      item.erase("body");
      item["eligible"] = entry.eligible;
      item["reasons"] = json::array(entry.reasons.begin(), entry.reasons.end());
      items.push_back(std::move(item));
    }
    co_return Response::json(json::object{
        {place.epci ? "epci" : "commune",
         json::object{
             {"code", place.code}, {"name", place.name}, {"population", place.population}}},
        {"offers", std::move(items)}});
  }

  Statement upsert(const Offer& o) const {
    return {
        "INSERT INTO offers_offers (id, document, archived, version, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET document ="
        " excluded.document, archived = excluded.archived, version = excluded.version,"
        " updated_at = excluded.updated_at",
        {o.id, json::serialize(to_json(o)), std::int64_t{o.archived ? 1 : 0}, o.version,
         now_seconds()}};
  }

  // An operator's offer from the body: every field checked, its rule compiled (422 naming the
  // field or the rule's place).
  Offer checked_offer(const json::object& body) const {
    Offer offer;
    try {
      offer = offer_from_json(body);
      Rules scratch = current()->rules;  // with the others': 64 programmes in all at most
      compile(scratch, offer, current()->programmes);
    } catch (const FieldError& e) {
      throw HttpError(422, "invalid_field", e.what());
    } catch (const RuleError& e) {
      throw HttpError(422, "invalid_field", e.what());
    } catch (const YAML::Exception& e) {
      throw HttpError(422, "invalid_field", "eligibility: not a rule");
    }
    return offer;
  }

  Task<Response> create(Request r) {
    Offer offer = checked_offer(body_object(r));
    AsyncMutex::Lock lock = co_await writes_.lock();
    offer.version = 1;
    offer.archived = false;
    // The store decides, not this instance's copy: another instance may have made it.
    Statement add{
        "INSERT INTO offers_offers (id, document, archived, version, updated_at)"
        " VALUES (?1, ?2, 0, 1, ?3) ON CONFLICT (id) DO NOTHING",
        {offer.id, json::serialize(to_json(offer)), now_seconds()}};
    if ((co_await host_->database().query(std::move(add))).changes != 1)
      throw HttpError(409, "conflict", "offer " + offer.id + " exists");
    co_await changed();
    Response res = Response::json(to_json(offer), 201);
    res.headers.emplace_back("Location", "/api/offers/" + offer.id);
    co_return res;
  }

  // PUT /api/offers/{id}: the whole offer; `version` the one read, required (409 when the
  // store holds another: changed meanwhile, here or on another instance).
  Task<Response> update(Request r) {
    const json::object body = body_object(r);
    Offer offer = checked_offer(body);
    if (offer.id != r.param("id")) throw HttpError(422, "invalid_field", "id: not the path's");
    const json::value* read = body.if_contains("version");
    if (!read || !read->is_int64())
      throw HttpError(422, "invalid_field", "version: the version read is required");
    AsyncMutex::Lock lock = co_await writes_.lock();
    const Offer* now = find(*current(), offer.id);
    if (!now) throw HttpError(404, "not_found", "no such offer");
    offer.version = read->as_int64() + 1;
    offer.archived = now->archived;
    Statement put{
        "UPDATE offers_offers SET document = ?2, version = ?3, updated_at = ?4"
        " WHERE id = ?1 AND version = ?5",
        {offer.id, json::serialize(to_json(offer)), offer.version, now_seconds(),
         read->as_int64()}};
    if ((co_await host_->database().query(std::move(put))).changes != 1)
      throw HttpError(409, "conflict",
                      "the offer changed since it was read (version " +
                          std::to_string(now->version) + "): read it again");
    co_await changed();
    co_return Response::json(to_json(offer));
  }

  Task<Response> archive(Request r) {
    AsyncMutex::Lock lock = co_await writes_.lock();
    const Offer* now = find(*current(), r.param("id"));
    if (!now) throw HttpError(404, "not_found", "no such offer");
    Offer offer = *now;
    // Only the flag: the document stays as the store has it (a newer edit is kept).
    Statement put{
        "UPDATE offers_offers SET archived = 1, version = version + 1, updated_at = ?2"
        " WHERE id = ?1",
        {offer.id, now_seconds()}};
    co_await host_->database().query(std::move(put));
    offer.archived = true;
    ++offer.version;
    co_await changed();
    co_return Response::json(to_json(offer));
  }

  Task<void> changed() {
    host_->announce("catalogue");  // committed: the others read it again, whatever happens here
    co_await reload();
  }

  std::vector<Statement> replace_members(const std::string& programme,
                                         const std::vector<std::string>& codes,
                                         const std::string& by, bool sample) const {
    // The import's row first: on PostgreSQL a second import of the programme waits for this one
    // to commit, then replaces its list whole (rather than both lists mixed).
    std::vector<Statement> writes;
    writes.push_back(
        {"INSERT INTO offers_imports (programme, imported_at, imported_by, members, sample)"
         " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (programme) DO UPDATE SET imported_at ="
         " excluded.imported_at, imported_by = excluded.imported_by, members = excluded.members,"
         " sample = excluded.sample",
         {programme, now_seconds(), by, static_cast<std::int64_t>(codes.size()),
          std::int64_t{sample ? 1 : 0}}});
    writes.push_back({"DELETE FROM offers_members WHERE programme = ?1", {programme}});
    for (const auto& code : codes)
      writes.push_back(
          {"INSERT INTO offers_members (programme, code) VALUES (?1, ?2)"
           " ON CONFLICT (programme, code) DO NOTHING",
           {programme, code}});
    return writes;
  }

  Task<Response> programmes(Request) {
    Statement imports{
        "SELECT programme, imported_at, imported_by, members, sample FROM offers_imports", {}};
    const QueryResult rows = co_await host_->database().query(std::move(imports));
    json::array items;
    for (const auto& [id, p] : programmes_) {
      json::object item{{"id", id}, {"label", p.label}, {"members", 0}, {"imported_at", nullptr}};
      for (const auto& row : rows.rows)
        if (text_of(row[0]) == id) {
          item["imported_at"] = iso_utc(int_of(row[1]));
          item["imported_by"] = text_of(row[2]);
          item["members"] = int_of(row[3]);
          item["sample"] = int_of(row[4]) != 0;
        }
      items.push_back(std::move(item));
    }
    co_return Response::json(json::object{{"programmes", std::move(items)}});
  }

  // POST /api/offers/programmes/{id}/members (CSV): the programme's whole list, replaced, or
  // 422 with the lines at fault and nothing changed.
  Task<Response> import_members(Request r) {
    const std::string& id = r.param("id");
    if (!programmes_.contains(id)) throw HttpError(404, "not_found", "no programme " + id);
    std::vector<std::string> errors;
    const auto codes = members_of_csv(r.body, host_->territories(), errors);
    if (!errors.empty()) {
      std::string all;
      for (const auto& e : errors) all += (all.empty() ? "" : " ; ") + e;
      throw HttpError(422, "invalid_csv", all);
    }
    if (codes.empty()) throw HttpError(422, "invalid_csv", "aucun code INSEE dans le fichier");
    AsyncMutex::Lock lock = co_await writes_.lock();
    auto writes = replace_members(id, codes, r.identity->subject, false);
    co_await host_->database().transaction(std::move(writes));
    co_await changed();
    host_->logger().info("programme " + id + ": " + std::to_string(codes.size()) +
                         " communes imported by " + r.identity->subject);
    co_return Response::json(
        json::object{{"programme", id}, {"members", static_cast<std::int64_t>(codes.size())}});
  }

  // POST /api/offers/{id}/interest: a lead for the caller's commune, routed to the directorate
  // in charge (asked of the directorates plugin through the host). Again: the same lead, 200.
  Task<Response> interest(Request r) {
    const Identity& who = *r.identity;
    const auto c = current();
    const Offer* offer = find(*c, r.param("id"));
    if (!offer || offer->archived) throw HttpError(404, "not_found", "no such offer");
    const Commune* commune = host_->territories().commune(who.commune_insee);
    if (!commune)
      throw HttpError(422, "no_commune",
                      "Votre compte n'est rattaché à aucune commune : une demande est faite au "
                      "nom d'une commune.");
    std::string message;
    if (!r.body.empty()) {
      const json::object body = body_object(r);
      if (const json::value* m = body.if_contains("message"); m && !m->is_null()) {
        if (!m->is_string() || m->as_string().size() > 5000)
          throw HttpError(422, "invalid_field", "message: text, at most 5000 bytes");
        message = std::string(m->as_string());
        if (std::any_of(message.begin(), message.end(), [](unsigned char ch) {
              return (ch < 0x20 && ch != '\n' && ch != '\r') || ch == 0x7F;
            }))
          throw HttpError(422, "invalid_field", "message: no control character");
      }
    }
    const auto lookup =
        host_->lookup_as<::passerelle::directorates::Lookup>(::passerelle::directorates::kService);
    if (!lookup)
      throw HttpError(503, "directorates_unavailable",
                      "Les directions régionales ne sont pas joignables pour le moment : "
                      "réessayez dans quelques minutes.");
    const auto directorate = lookup->for_commune(commune->code);
    if (!directorate)
      throw HttpError(422, "no_directorate",
                      "Aucune direction régionale n'est rattachée à " + commune->name + ".");
    bool eligible = false;
    for (auto& entry : ranked(*c, *commune))
      if (entry.offer == offer) eligible = entry.eligible;
    Statement add{
        "INSERT INTO offers_leads (id, offer, commune, requester, requester_name,"
        " requester_email, message, eligible, directorate, directorate_name, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT (offer, commune, requester) DO NOTHING",
        {random_id(), offer->id, commune->code, who.subject, who.display_name, who.email, message,
         std::int64_t{eligible ? 1 : 0}, directorate->id, directorate->name, now_seconds()}};
    const QueryResult added = co_await host_->database().query(std::move(add));
    Statement one{
        std::string(kLeadColumns) + " WHERE offer = ?1 AND commune = ?2 AND requester = ?3",
        {offer->id, commune->code, who.subject}};
    const QueryResult rows = co_await host_->database().query(std::move(one));
    json::object lead = lead_json(rows.rows.at(0), *c);
    lead["directorate_contact"] = json::object{{"name", directorate->name},
                                               {"address", directorate->address},
                                               {"phone", directorate->phone},
                                               {"email", directorate->email}};
    co_return Response::json(lead, added.changes == 1 ? 201 : 200);
  }

  static constexpr const char* kLeadColumns =
      "SELECT id, offer, commune, requester_name, message, eligible, directorate,"
      " directorate_name, created_at FROM offers_leads";

  json::object lead_json(const std::vector<SqlValue>& row, const Catalogue& c) const {
    const Offer* offer = find(c, text_of(row[1]));
    json::object o{{"id", text_of(row[0])},
                   {"offer", text_of(row[1])},
                   {"offer_title", offer ? json::value(offer->title) : json::value(nullptr)},
                   {"commune", text_of(row[2])},
                   {"requester_name", text_of(row[3])},
                   {"message", text_of(row[4])},
                   {"eligible", int_of(row[5]) != 0},
                   {"directorate", text_of(row[6])},
                   {"directorate_name", text_of(row[7])},
                   {"created_at", iso_utc(int_of(row[8]))}};
    if (const Commune* commune = host_->territories().commune(text_of(row[2])))
      o["commune_name"] = commune->name;
    return o;
  }

  // GET /api/offers/leads: a requester's commune's; advisors and operators: all, newest first
  // (?directorate= one directorate's queue).
  Task<Response> leads(Request r) {
    const Identity& who = *r.identity;
    Statement list;
    if (who.has_role("advisor") || who.has_role("operator")) {
      if (auto d = r.query_param("directorate"))
        list = {std::string(kLeadColumns) +
                    " WHERE directorate = ?1 ORDER BY created_at DESC LIMIT 200",
                {*d}};
      else
        list = {std::string(kLeadColumns) + " ORDER BY created_at DESC LIMIT 200", {}};
    } else {
      list = {std::string(kLeadColumns) + " WHERE commune = ?1 ORDER BY created_at DESC LIMIT 200",
              {who.commune_insee}};
    }
    const QueryResult rows = co_await host_->database().query(std::move(list));
    const auto c = current();
    json::array items;
    for (const auto& row : rows.rows) items.push_back(lead_json(row, *c));
    co_return Response::json(json::object{{"leads", std::move(items)}});
  }

  // --- financing requests -------------------------------------------------------------------

  static constexpr const char* kRequestColumns =
      "SELECT id, lead_id, offer, commune, requester_name, directorate, project, amount_eur,"
      " duration_years, status, decision, reason, created_at, updated_at, version"
      " FROM offers_requests";
  static constexpr std::int64_t kMaxFiles = 20;
  static constexpr std::int64_t kQuotaBytes = 50LL * 1024 * 1024;

  json::object request_json(const std::vector<SqlValue>& row, const Catalogue& c) const {
    const Offer* offer = find(c, text_of(row[2]));
    json::object o{{"id", text_of(row[0])},
                   {"lead", text_of(row[1])},
                   {"offer", text_of(row[2])},
                   {"offer_title", offer ? json::value(offer->title) : json::value(nullptr)},
                   {"commune", text_of(row[3])},
                   {"requester_name", text_of(row[4])},
                   {"directorate", text_of(row[5])},
                   {"project", text_of(row[6])},
                   {"amount_eur", int_of(row[7])},
                   {"duration_years", int_of(row[8])},
                   {"status", text_of(row[9])},
                   {"decision", text_of(row[10]).empty() ? json::value(nullptr)
                                                         : json::value(text_of(row[10]))},
                   {"reason", text_of(row[11])},
                   {"created_at", iso_utc(int_of(row[12]))},
                   {"updated_at", iso_utc(int_of(row[13]))},
                   {"version", int_of(row[14])}};
    if (const Commune* commune = host_->territories().commune(text_of(row[3])))
      o["commune_name"] = commune->name;
    return o;
  }

  // The request, if the caller may see it: the élus and agents of its commune, the bank's
  // advisors. Anyone else: 404, as if it did not exist.
  Task<std::vector<SqlValue>> load_request(const Request& r, Side& side) {
    const std::string& id = r.param("id");
    const bool well_formed =
        id.size() == 32 && std::all_of(id.begin(), id.end(), [](char ch) {
          return std::isdigit(static_cast<unsigned char>(ch)) || (ch >= 'a' && ch <= 'f');
        });
    if (!well_formed) throw HttpError(404, "not_found", "no such request");
    Statement one{std::string(kRequestColumns) + " WHERE id = ?1", {id}};
    QueryResult rows = co_await host_->database().query(std::move(one));
    if (rows.rows.empty()) throw HttpError(404, "not_found", "no such request");
    const Identity& who = *r.identity;
    // The commune's élus and agents are its requesters, whatever other role they have: nobody
    // decides their own commune's request. The bank sees a request once it is sent.
    if ((who.has_role("elu") || who.has_role("agent")) && !who.commune_insee.empty() &&
        who.commune_insee == text_of(rows.rows[0][3])) {
      side = Side::requester;
    } else if (who.has_role("advisor") && text_of(rows.rows[0][9]) != "draft") {
      side = Side::bank;
    } else {
      throw HttpError(404, "not_found", "no such request");
    }
    co_return std::move(rows.rows[0]);
  }

  // The request with its history and documents, and its ETag.
  Task<Response> request_answer(const std::vector<SqlValue>& row, int status = 200) {
    const std::string id = text_of(row[0]);
    std::vector<Statement> reads{
        {"SELECT at, actor_name, from_status, to_status, note FROM offers_request_history"
         " WHERE request_id = ?1 ORDER BY version",
         {id}},
        {"SELECT attachment_id, filename, media_type, size, author_name, at FROM"
         " offers_request_files WHERE request_id = ?1 ORDER BY at, attachment_id",
         {id}}};
    const auto results = co_await host_->database().transaction(std::move(reads));
    json::object o = request_json(row, *current());
    json::array history, documents;
    for (const auto& h : results[0].rows)
      history.push_back(json::object{
          {"at", iso_utc(int_of(h[0]))},
          {"by", text_of(h[1])},
          {"from", text_of(h[2]).empty() ? json::value(nullptr) : json::value(text_of(h[2]))},
          {"to", text_of(h[3])},
          {"note", text_of(h[4])}});
    for (const auto& f : results[1].rows)
      documents.push_back(
          json::object{{"id", text_of(f[0])},
                       {"filename", text_of(f[1])},
                       {"media_type", text_of(f[2])},
                       {"size", int_of(f[3])},
                       {"by", text_of(f[4])},
                       {"at", iso_utc(int_of(f[5]))},
                       {"url", "/api/offers/requests/" + id + "/documents/" + text_of(f[0])}});
    o["history"] = std::move(history);
    o["documents"] = std::move(documents);
    Response res = Response::json(o, status);
    res.headers.emplace_back("ETag", "\"" + std::to_string(int_of(row[14])) + "\"");
    co_return res;
  }

  static Statement history_row(const std::string& id, const std::string& change, std::int64_t at,
                               const Identity& who, std::string from, std::string to,
                               std::string note) {
    // Written only if the change it tells of was (bound to the change's random token).
    return {
        "INSERT INTO offers_request_history (request_id, version, at, actor, actor_name,"
        " from_status, to_status, note) SELECT id, version, ?3, ?4, ?5, ?6, ?7, ?8"
        " FROM offers_requests WHERE id = ?1 AND last_change = ?2",
        {id, change, at, who.subject, who.display_name, std::move(from), std::move(to),
         std::move(note)}};
  }

  // POST /api/offers/leads/{id}/request: the lead's financing request, a draft; again: the same.
  Task<Response> open_request(Request r) {
    const Identity& who = *r.identity;
    Statement lead{"SELECT id, offer, commune, directorate FROM offers_leads WHERE id = ?1",
                   {r.param("id")}};
    const QueryResult leads = co_await host_->database().query(std::move(lead));
    if (leads.rows.empty() || text_of(leads.rows[0][2]) != who.commune_insee)
      throw HttpError(404, "not_found", "no such lead");
    const auto& l = leads.rows[0];
    const auto now = now_seconds();
    const std::string id = random_id(), change = random_id();
    std::vector<Statement> writes{
        {"INSERT INTO offers_requests (id, lead_id, offer, commune, requester, requester_name,"
         " directorate, project, amount_eur, duration_years, status, decision, reason,"
         " created_at, updated_at, version, last_change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '',"
         " 0, 0, 'draft', '', '', ?8, ?8, 1, ?9) ON CONFLICT (lead_id) DO NOTHING",
         {id, text_of(l[0]), text_of(l[1]), text_of(l[2]), who.subject, who.display_name,
          text_of(l[3]), now, change}},
        history_row(id, change, now, who, "", "draft", "")};
    const auto done = co_await host_->database().transaction(std::move(writes));
    if (done[0].changes == 1) {
      bool first = false;
      {
        const std::lock_guard lock(requesting_mutex_);
        first = requesting_.insert(text_of(l[2])).second;
      }
      if (first) host_->announce("requests " + text_of(l[2]));
    }
    Statement one{std::string(kRequestColumns) + " WHERE lead_id = ?1", {text_of(l[0])}};
    const QueryResult rows = co_await host_->database().query(std::move(one));
    co_return co_await request_answer(rows.rows.at(0), done[0].changes == 1 ? 201 : 200);
  }

  Task<Response> list_requests(Request r) {
    const Identity& who = *r.identity;
    std::vector<SqlValue> params;
    std::string where;
    if (!who.has_role("advisor")) {
      where = " WHERE commune = ?1";
      params.push_back(who.commune_insee);
    } else {
      // The bank's queue: every request past its draft, oldest change first.
      where = " WHERE status <> 'draft'";
      if (auto status = r.query_param("status")) {
        if (!status_named(*status)) throw HttpError(400, "bad_request", "status: unknown");
        params.push_back(*status);
        where += " AND status = ?" + std::to_string(params.size());
      }
      if (auto d = r.query_param("directorate")) {
        params.push_back(*d);
        where += " AND directorate = ?" + std::to_string(params.size());
      }
    }
    Statement list{std::string(kRequestColumns) + where +
                       (who.has_role("advisor") ? " ORDER BY updated_at, id"
                                                : " ORDER BY updated_at DESC, id") +
                       " LIMIT 200",
                   std::move(params)};
    const QueryResult rows = co_await host_->database().query(std::move(list));
    const auto c = current();
    json::array items;
    for (const auto& row : rows.rows) items.push_back(request_json(row, *c));
    co_return Response::json(json::object{{"requests", std::move(items)}});
  }

  Task<Response> get_request(Request r) {
    Side side = Side::requester;
    const auto row = co_await load_request(r, side);
    co_return co_await request_answer(row);
  }

  static void check_version(const Request& r, std::int64_t version) {
    if (auto if_match = r.header("if-match");
        if_match && *if_match != "*" &&
        if_match->find("\"" + std::to_string(version) + "\"") == std::string::npos)
      throw HttpError(412, "precondition_failed",
                      "the request changed since it was read (version " + std::to_string(version) +
                          "): read it again");
  }

  // PUT /api/offers/requests/{id}: the draft's project, amount and duration.
  Task<Response> edit_request(Request r) {
    Side side = Side::requester;
    const auto row = co_await load_request(r, side);
    if (side != Side::requester) throw HttpError(403, "forbidden", "the requester's to edit");
    if (text_of(row[9]) != "draft")
      throw HttpError(409, "conflict", "a request " + text_of(row[9]) + " is no longer edited");
    check_version(r, int_of(row[14]));
    const json::object body = body_object(r);
    std::string project = text_of(row[6]);
    std::int64_t amount = int_of(row[7]), duration = int_of(row[8]);
    if (const json::value* v = body.if_contains("project")) {
      if (!v->is_string() || v->as_string().size() > 20000)
        throw HttpError(422, "invalid_field", "project: text, at most 20000 bytes");
      project = std::string(v->as_string());
      if (std::any_of(project.begin(), project.end(), [](unsigned char ch) {
            return (ch < 0x20 && ch != '\n' && ch != '\r') || ch == 0x7F;
          }))
        throw HttpError(422, "invalid_field", "project: no control character");
    }
    const auto whole = [&](const char* field, std::int64_t max, std::int64_t& into) {
      const json::value* v = body.if_contains(field);
      if (!v) return;
      if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > max)
        throw HttpError(422, "invalid_field",
                        std::string(field) + ": a whole number from 1 to " + std::to_string(max));
      into = v->as_int64();
    };
    whole("amount_eur", 10'000'000'000, amount);
    whole("duration_years", 60, duration);
    // Within what the offer says of itself, when it says it.
    if (const Offer* offer = find(*current(), text_of(row[2]))) {
      if (offer->max_duration_years && duration > *offer->max_duration_years)
        throw HttpError(422, "invalid_field",
                        "duration_years: " + offer->title + " court sur " +
                            std::to_string(*offer->max_duration_years) + " ans au plus");
      if (offer->max_amount_eur && amount > *offer->max_amount_eur)
        throw HttpError(422, "invalid_field",
                        "amount_eur: " + offer->title + " finance " +
                            french_number(*offer->max_amount_eur) + " euros au plus");
    }
    Statement put{
        "UPDATE offers_requests SET project = ?2, amount_eur = ?3, duration_years = ?4,"
        " updated_at = ?5, version = version + 1, last_change = ?6 WHERE id = ?1 AND version = ?7",
        {text_of(row[0]), project, amount, duration, now_seconds(), random_id(), int_of(row[14])}};
    if ((co_await host_->database().query(std::move(put))).changes != 1)
      throw HttpError(412, "precondition_failed", "the request changed meanwhile: read it again");
    co_return co_await get_request(std::move(r));
  }

  // POST /api/offers/requests/{id}/{action}: submit (the requester), review, decide, sign (the
  // bank). A move its status does not allow: 409 naming both.
  Task<Response> move_request(Request r) {
    const Identity& who = *r.identity;
    Side side = Side::requester;
    const auto row = co_await load_request(r, side);
    const auto move = move_named(r.param("action"));
    if (!move) throw HttpError(404, "not_found", "no such action");
    if (side_of(*move) != side)
      throw HttpError(
          403, "forbidden",
          side == Side::bank ? "this is the requester's to do" : "this is the bank's to do");
    check_version(r, int_of(row[14]));
    const json::object body = r.body.empty() ? json::object{} : body_object(r);
    const auto stored = status_named(text_of(row[9]));
    if (!stored) throw std::runtime_error("request " + text_of(row[0]) + ": unknown status");
    const Status from = *stored;
    const bool granted = text_of(row[10]) == "granted";
    const auto to = after(from, *move, granted);
    if (!to)
      throw HttpError(409, "conflict",
                      "a request " + std::string(name_of(from)) +
                          (from == Status::decided && !granted ? " (declined)" : "") +
                          " cannot be " +
                          (*move == Move::submit   ? "submitted"
                           : *move == Move::review ? "reviewed"
                           : *move == Move::decide ? "decided"
                                                   : "signed"));
    std::string decision = text_of(row[10]), reason = text_of(row[11]);
    if (*move == Move::submit &&
        (text_of(row[6]).empty() || int_of(row[7]) < 1 || int_of(row[8]) < 1))
      throw HttpError(
          422, "incomplete",
          "Décrivez le projet et indiquez le montant et la durée avant de transmettre.");
    if (*move == Move::decide) {
      const json::value* d = body.if_contains("decision");
      if (!d || !d->is_string() || (d->as_string() != "granted" && d->as_string() != "declined"))
        throw HttpError(422, "invalid_field", "decision: granted or declined");
      decision = std::string(d->as_string());
      const json::value* why = body.if_contains("reason");
      reason = why && why->is_string() ? std::string(why->as_string()) : "";
      if (reason.size() > 5000) throw HttpError(422, "invalid_field", "reason: at most 5000 bytes");
      if (std::any_of(reason.begin(), reason.end(), [](unsigned char ch) {
            return (ch < 0x20 && ch != '\n' && ch != '\r') || ch == 0x7F;
          }))
        throw HttpError(422, "invalid_field", "reason: no control character");
      if (decision == "declined" && reason.empty())
        throw HttpError(422, "invalid_field", "reason: required when the request is declined");
    }
    const auto now = now_seconds();
    const std::string change = random_id();
    std::vector<Statement> writes{
        {"UPDATE offers_requests SET status = ?2, decision = ?3, reason = ?4, updated_at = ?5,"
         " version = version + 1, last_change = ?6 WHERE id = ?1 AND version = ?7",
         {text_of(row[0]), std::string(name_of(*to)), decision, reason, now, change,
          int_of(row[14])}},
        history_row(text_of(row[0]), change, now, who, std::string(name_of(from)),
                    std::string(name_of(*to)), *move == Move::decide ? decision : "")};
    const auto done = co_await host_->database().transaction(std::move(writes));
    if (done[0].changes != 1)
      throw HttpError(412, "precondition_failed", "the request changed meanwhile: read it again");
    co_return co_await get_request(std::move(r));
  }

  // Before a document is read: the request is the caller's to see, not decided, not full.
  Task<void> may_attach(Request r) {
    Side side = Side::requester;
    const auto row = co_await load_request(r, side);
    if (text_of(row[9]) == "decided" || text_of(row[9]) == "contract_signed")
      throw HttpError(409, "conflict", "a request " + text_of(row[9]) + " takes no more documents");
    Statement used{
        "SELECT count(*), coalesce(sum(size), 0) FROM offers_request_files"
        " WHERE request_id = ?1",
        {text_of(row[0])}};
    const QueryResult rows = co_await host_->database().query(std::move(used));
    if (int_of(rows.rows.at(0).at(0)) >= kMaxFiles || int_of(rows.rows.at(0).at(1)) >= kQuotaBytes)
      throw quota_exceeded();
  }

  static HttpError quota_exceeded() {
    return HttpError(
        413, "quota_exceeded",
        "Une demande de financement porte 20 documents et 50 Mo au plus : celle-ci est pleine.");
  }

  // POST /api/offers/requests/{id}/documents: the host received them; named here, within the
  // quota (the request's row locked first, as conseils does).
  Task<Response> attach(Request r) {
    Side side = Side::requester;
    const auto row = co_await load_request(r, side);
    if (r.files.empty()) throw HttpError(422, "no_file", "choose at least one file");
    const std::string id = text_of(row[0]);
    std::vector<Statement> writes;
    writes.push_back({"UPDATE offers_requests SET version = version WHERE id = ?1", {id}});
    for (const Attachment& file : r.files)
      writes.push_back(
          {"INSERT INTO offers_request_files (attachment_id, request_id, filename, media_type,"
           " size, author_name, at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 FROM offers_requests"
           " WHERE id = ?2 AND status NOT IN ('decided', 'contract_signed')"
           " AND (SELECT count(*) FROM offers_request_files WHERE request_id = ?2) < ?8"
           " AND (SELECT coalesce(sum(size), 0) FROM offers_request_files WHERE request_id = ?2)"
           " + ?5 <= ?9",
           {file.id, id, file.filename, file.media_type, file.size, r.identity->display_name,
            now_seconds(), kMaxFiles, kQuotaBytes}});
    const auto written = co_await host_->database().transaction(std::move(writes));
    bool within = true;
    for (std::size_t i = 1; i < written.size(); ++i) within = within && written[i].changes == 1;
    if (!within) {
      std::vector<Statement> drops;
      for (const Attachment& file : r.files)
        drops.push_back({"DELETE FROM offers_request_files WHERE attachment_id = ?1", {file.id}});
      co_await host_->database().transaction(std::move(drops));
      throw quota_exceeded();
    }
    co_return co_await request_answer(row, 201);
  }

  Task<Response> document(Request r) {
    Side side = Side::requester;
    const auto row = co_await load_request(r, side);
    const std::string& file = r.param("file");
    Statement one{
        "SELECT attachment_id FROM offers_request_files WHERE request_id = ?1 AND"
        " attachment_id = ?2",
        {text_of(row[0]), file}};
    if ((co_await host_->database().query(std::move(one))).rows.empty())
      throw HttpError(404, "not_found", "no such document");
    co_return co_await host_->attachments().download(file);
  }

  // The communes that made a financing request (requests are never deleted): the dashboard asks
  // the store for the others' requests only.
  Task<void> load_requesting() {
    Statement all{"SELECT DISTINCT commune FROM offers_requests", {}};
    const QueryResult rows = co_await host_->database().query(std::move(all));
    std::unordered_set<std::string> communes;
    for (const auto& row : rows.rows) communes.insert(text_of(row[0]));
    const std::lock_guard lock(requesting_mutex_);
    requesting_ = std::move(communes);
  }

  Host* host_ = nullptr;
  std::string file_;
  std::mutex requesting_mutex_;
  std::unordered_set<std::string> requesting_;
  std::map<std::string, Programme> programmes_;  // from the file (labels, samples)
  std::atomic<std::shared_ptr<const Catalogue>> catalogue_{std::make_shared<const Catalogue>()};
  AsyncMutex writes_;
};

}  // namespace passerelle::plugins::offers

PASSERELLE_PLUGIN(passerelle::plugins::offers::OffersPlugin)
