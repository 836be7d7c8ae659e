// conseils: advice requests from territorial agents and élus of small communes, answered by
// the bank's advisors. A requester sees the requests of their own commune; an advisor those
// of their themes; an operator counts, never contents. Anything else is 404: a request one may
// not see does not exist for them.
#include "anonymise.hpp"
#include "conseils_config.hpp"
#include "french_search.hpp"
#include "values.hpp"
#include "workflow.hpp"

#include "directorates_service.hpp"

#include "passerelle/sdk.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <set>

namespace passerelle::plugins::conseils {

namespace json = boost::json;

namespace {

bool well_formed_id(const std::string& id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A text field of the body: trimmed, 1 to `max` bytes (or absent when `optional`).
std::string text_field(const json::object& body, const std::string& name, std::size_t max,
                       bool optional = false, bool lines = false) {
  const auto* v = body.if_contains(name);
  if (!v || v->is_null()) {
    if (optional) return {};
    throw HttpError(422, "invalid_field", name + ": required");
  }
  if (!v->is_string()) throw HttpError(422, "invalid_field", name + ": a text");
  std::string s(v->as_string());
  const auto first = s.find_first_not_of(" \t\r\n");
  const auto last = s.find_last_not_of(" \t\r\n");
  s = first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
  if (s.empty() && !optional) throw HttpError(422, "invalid_field", name + ": required");
  if (s.size() > max)
    throw HttpError(422, "invalid_field", name + ": at most " + std::to_string(max) + " bytes");
  // Texts go into pages and mail: no control character but tabs, and line breaks only where
  // the text has lines (a question, an answer, a message), as "\n".
  std::string clean;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r' && lines) {
      clean += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (c == '\n' && lines) {
      clean += '\n';
    } else if ((c < 0x20 && c != '\t') || c == 0x7F) {
      throw HttpError(
          422, "invalid_field",
          name + (lines ? ": no control character" : ": one line, no control character"));
    } else {
      clean += static_cast<char>(c);
    }
  }
  return clean;
}

constexpr const char* kColumns =
    "id, commune, department, requester, requester_name, theme, subject, question, status,"
    " advisor, advisor_name, answer, created_at, due_at, updated_at, version, requester_email,"
    " advisor_email";

// One row of conseils_requests, in kColumns' order.
struct Stored {
  std::string id, commune, department, requester, requester_name, theme, subject, question;
  Status status = Status::submitted;
  std::string advisor, advisor_name, answer;
  std::int64_t created_at = 0, due_at = 0, updated_at = 0, version = 0;
  std::string requester_email, advisor_email;
};

Stored stored_of(const std::vector<SqlValue>& row) {
  Stored s;
  s.id = text_of(row[0]);
  s.commune = text_of(row[1]);
  s.department = text_of(row[2]);
  s.requester = text_of(row[3]);
  s.requester_name = text_of(row[4]);
  s.theme = text_of(row[5]);
  s.subject = text_of(row[6]);
  s.question = text_of(row[7]);
  s.status = status_named(text_of(row[8])).value_or(Status::submitted);
  s.advisor = text_of(row[9]);
  s.advisor_name = text_of(row[10]);
  s.answer = text_of(row[11]);
  s.created_at = int_of(row[12]);
  s.due_at = int_of(row[13]);
  s.updated_at = int_of(row[14]);
  s.version = int_of(row[15]);
  s.requester_email = text_of(row[16]);
  s.advisor_email = text_of(row[17]);
  return s;
}

std::string etag(const Stored& s) { return "\"" + std::to_string(s.version) + "\""; }

constexpr std::int64_t kMaxLimit = 100;
constexpr std::int64_t kMaxMessages = 200;
// The dashboard tells of the changes of the last two weeks.
constexpr std::int64_t kNewsDays = 14;
constexpr std::int64_t kMaxAttempts = 20;  // a mail the relay refused, tried again

}  // namespace

class ConseilsPlugin final : public Plugin {
 public:
  PluginInfo info() const override {
    return {"conseils", "0.1.0",
            "Territoires Conseils: advice requests of small communes, answered by advisors."};
  }

  std::vector<ConfigField> config_schema() const override {
    return {{"settings_file", ConfigType::path, true, nullptr,
             "YAML: themes and service levels, advisors, population ceiling "
             "(config/conseils.yaml)"},
            {"mail_retry", ConfigType::duration, false, 60000,
             "first wait before a mail the relay refused is tried again (doubling, up to 1 h)"},
            {"attachment_quota", ConfigType::integer, false, 26214400,
             "bytes of files one request may hold (25 MiB)"},
            {"max_attachments", ConfigType::integer, false, 20, "files one request may hold"}};
  }

  std::vector<Migration> migrations() const override {
    Migration knowledge{2, "", {}};
    knowledge.sql_by_dialect["sqlite"] =
#include "migrations/002_knowledge_sqlite.inc"
        ;
    knowledge.sql_by_dialect["postgresql"] =
#include "migrations/002_knowledge_postgresql.inc"
        ;
    return {{1,
#include "migrations/001_requests.inc"
             ,
             {}},
            knowledge,
            {3,
#include "migrations/003_attachments.inc"
             ,
             {}}};
  }

  Task<void> start(Host& host) override {
    host_ = &host;
    const std::string file(host.config().at("settings_file").as_string());
    auto settings = std::make_shared<Settings>();
    std::function<void()> read = [&settings, &file] { *settings = load_settings(file); };
    co_await host.offload(std::move(read));
    settings_ = std::move(settings);
    host.logger().info("themes: " + std::to_string(settings_->themes.size()) + ", advisors: " +
                       std::to_string(settings_->advisors.size()) + " from " + file);
    retry_ = std::chrono::milliseconds(host.config().at("mail_retry").as_int64());
    quota_bytes_ = host.config().at("attachment_quota").as_int64();
    max_files_ = host.config().at("max_attachments").as_int64();
    if (quota_bytes_ < 1 || max_files_ < 1)
      throw std::runtime_error("attachment_quota and max_attachments: 1 at least");
    if (retry_ < std::chrono::seconds(1)) throw std::runtime_error("mail_retry: 1s at least");
    // The outbox is written in any case; it is sent when the gateway has a relay.
    if (host.mail().configured()) {
      executor_ = co_await boost::asio::this_coro::executor;
      wake_ = std::make_unique<boost::asio::steady_timer>(executor_);
      sending_ = true;
      boost::asio::co_spawn(executor_, send_loop(), boost::asio::detached);
    } else {
      host.logger().warn("no mail relay (mail.relay): notifications wait in the outbox");
    }
  }

  Task<void> stop() override {
    if (!sending_) co_return;
    stopping_ = true;
    boost::asio::post(executor_, [this] { wake_->cancel(); });
    // The loop's frame is this library's code: wait until it has ended.
    boost::asio::steady_timer wait(executor_);
    while (sending_) {
      wait.expires_after(std::chrono::milliseconds(10));
      co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

  std::vector<Route> routes() override {
    const std::vector<std::string> requesters{"elu", "agent"}, readers{"elu", "agent", "advisor"},
        operators{"operator"};
    return {
        {"POST", "/api/conseils/requests", requesters,
         [this](Request r) { return create(std::move(r)); }},
        {"GET", "/api/conseils/requests", readers,
         [this](Request r) { return list(std::move(r)); }},
        {"GET", "/api/conseils/requests/{id}", readers,
         [this](Request r) { return get(std::move(r)); }},
        {"POST", "/api/conseils/requests/{id}/{action}", readers,
         [this](Request r) { return act(std::move(r)); }},
        {.method = "POST",
         .path = "/api/conseils/requests/{id}/attachments",
         .roles = readers,
         .handler = [this](Request r) { return attach(std::move(r)); },
         .uploads = true,
         .before_upload = [this](Request r) { return may_attach(std::move(r)); }},
        {"GET", "/api/conseils/requests/{id}/attachments/{file}", readers,
         [this](Request r) { return attachment(std::move(r)); }},
        {"GET", "/api/conseils/themes", {"*"}, [this](Request r) { return themes(std::move(r)); }},
        {"GET",
         "/api/conseils/knowledge",
         {"*"},
         [this](Request r) { return knowledge(std::move(r)); }},
        {"GET",
         "/api/conseils/knowledge/{id}",
         {"*"},
         [this](Request r) { return knowledge_entry(std::move(r)); }},
        {"DELETE",
         "/api/conseils/knowledge/{id}",
         {"advisor"},
         [this](Request r) { return unpublish(std::move(r)); }},
        {"GET", "/api/conseils/stats", operators,
         [this](Request r) { return stats(std::move(r)); }},
    };
  }

  // "Mes demandes" for a requester, "Ma file" for an advisor.
  Task<std::optional<json::value>> widget(Identity who) override {
    const auto now = now_seconds();
    if (!advisor_themes(who).empty()) {
      // Counted by the store: the open requests of the advisor's themes, however many.
      std::vector<SqlValue> params{now, who.subject};
      std::string in;
      for (const auto& t : advisor_themes(who)) {
        params.push_back(t);
        in += (in.empty() ? "?" : ", ?") + std::to_string(params.size());
      }
      Statement counts{
          "SELECT count(*), sum(CASE WHEN due_at < ?1 THEN 1 ELSE 0 END),"
          " sum(CASE WHEN advisor = ?2 THEN 1 ELSE 0 END) FROM conseils_requests"
          " WHERE status IN ('submitted', 'assigned', 'reopened') AND theme IN (" +
              in + ")",
          std::move(params)};
      const QueryResult rows = co_await host_->database().query(std::move(counts));
      const std::int64_t waiting = rows.rows.empty() ? 0 : int_of(rows.rows[0][0]);
      const std::int64_t overdue = rows.rows.empty() ? 0 : int_of(rows.rows[0][1]);
      const std::int64_t mine = rows.rows.empty() ? 0 : int_of(rows.rows[0][2]);
      // What others did to the requests in the advisor's charge lately.
      Statement news{
          "SELECT h.at, h.actor_name, h.to_status, r.id, r.subject FROM conseils_requests r"
          " JOIN conseils_history h ON h.request_id = r.id WHERE r.advisor = ?1"
          " AND h.actor <> ?1 AND h.at >= ?2 ORDER BY h.at DESC, h.version DESC LIMIT 5",
          {who.subject, now - kNewsDays * 86400}};
      const QueryResult changes = co_await host_->database().query(std::move(news));
      co_return json::object{{"title", "Ma file"},
                             {"waiting", waiting},
                             {"overdue", overdue},
                             {"assigned_to_me", mine},
                             {"news", news_lines(changes)}};
    }
    if (!who.has_role("elu") && !who.has_role("agent")) co_return std::nullopt;
    // A commune the service is not for (it could file nothing): said from memory, the store not
    // asked.
    const Commune* commune = host_->territories().commune(who.commune_insee);
    if (!commune) co_return std::nullopt;
    if (commune->population >= settings_->max_population)
      co_return json::object{
          {"title", "Territoires Conseils"},
          {"text", "Territoires Conseils répond aux communes de moins de " +
                       std::to_string(settings_->max_population) +
                       " habitants et aux intercommunalités. " + where_to_turn(*commune)}};
    Statement recent{std::string("SELECT ") + kColumns +
                         " FROM conseils_requests WHERE commune = ?1"
                         " ORDER BY created_at DESC, id DESC LIMIT 5",
                     {who.commune_insee}};
    const QueryResult rows = co_await host_->database().query(std::move(recent));
    json::array items;
    for (const auto& row : rows.rows) items.push_back(summary(stored_of(row), now));
    // What others (the advisors, a colleague of the commune) did to its requests lately.
    Statement news{
        "SELECT h.at, h.actor_name, h.to_status, r.id, r.subject FROM conseils_requests r"
        " JOIN conseils_history h ON h.request_id = r.id WHERE r.commune = ?1"
        " AND h.actor <> ?2 AND h.at >= ?3 ORDER BY h.at DESC, h.version DESC LIMIT 5",
        {who.commune_insee, who.subject, now - kNewsDays * 86400}};
    const QueryResult changes = co_await host_->database().query(std::move(news));
    co_return json::object{
        {"title", "Mes demandes"}, {"requests", std::move(items)}, {"news", news_lines(changes)}};
  }

  // The dashboard's lines of news: "at, by, status, request, subject" rows, newest first.
  static json::array news_lines(const QueryResult& rows) {
    json::array lines;
    for (const auto& row : rows.rows)
      lines.push_back(json::object{{"at", iso_utc(int_of(row[0]))},
                                   {"by", text_of(row[1])},
                                   {"status", text_of(row[2])},
                                   {"request", text_of(row[3])},
                                   {"subject", text_of(row[4])}});
    return lines;
  }

 private:
  std::vector<std::string> advisor_themes(const Identity& who) const {
    if (!who.has_role("advisor")) return {};
    // The address and who vouches for it: an account of another provider showing a listed
    // address is no advisor.
    return settings_->themes_of(who.email, who.provider.empty() ? "local" : who.provider);
  }

  json::object summary(const Stored& s, std::int64_t now) const {
    const Theme* theme = settings_->theme(s.theme);
    json::object o{{"id", s.id},
                   {"subject", s.subject},
                   {"theme", s.theme},
                   {"theme_label", theme ? theme->label : s.theme},
                   {"status", std::string(name_of(s.status))},
                   {"commune", s.commune},
                   {"requester_name", s.requester_name},
                   {"advisor_name", s.advisor_name},
                   {"created_at", iso_utc(s.created_at)},
                   {"due_at", iso_utc(s.due_at)},
                   {"updated_at", iso_utc(s.updated_at)},
                   {"overdue", open(s.status) && s.due_at < now}};
    if (const Commune* c = host_->territories().commune(s.commune)) o["commune_name"] = c->name;
    return o;
  }

  // What the caller is to a request; nullopt: they may not see it (404).
  std::optional<Party> party_of(const Identity& who, const Stored& s) const {
    // Who filed it is its requester, whatever else they are: nobody answers their own request.
    if (who.subject == s.requester) return Party::requester;
    const auto themes = advisor_themes(who);
    if (std::find(themes.begin(), themes.end(), s.theme) != themes.end()) return Party::advisor;
    if ((who.has_role("elu") || who.has_role("agent")) && !who.commune_insee.empty() &&
        who.commune_insee == s.commune)
      return Party::requester;
    return std::nullopt;
  }

  Task<Stored> load_visible(const Request& r, Party* party = nullptr) {
    const std::string& id = r.param("id");
    if (!well_formed_id(id)) throw HttpError(404, "not_found", "no such request");
    Statement one{std::string("SELECT ") + kColumns + " FROM conseils_requests WHERE id = ?1",
                  {id}};
    const QueryResult rows = co_await host_->database().query(std::move(one));
    if (rows.rows.empty()) throw HttpError(404, "not_found", "no such request");
    Stored s = stored_of(rows.rows[0]);
    const auto p = party_of(*r.identity, s);
    if (!p) throw HttpError(404, "not_found", "no such request");
    if (party) *party = *p;
    co_return s;
  }

  Task<Response> create(Request r) {
    const Identity& who = *r.identity;
    const json::object body = body_object(r);
    const std::string subject = text_field(body, "subject", 200);
    const std::string question = text_field(body, "question", 20'000, false, true);
    const std::string theme_id = text_field(body, "theme", 40);
    const Theme* theme = settings_->theme(theme_id);
    if (!theme) throw HttpError(422, "invalid_field", "theme: no theme \"" + theme_id + "\"");
    const Commune* commune = host_->territories().commune(who.commune_insee);
    if (!commune)
      throw HttpError(422, "no_commune",
                      "Votre compte n'est rattaché à aucune commune : une demande de conseil est "
                      "faite au nom d'une commune.");
    if (commune->population >= settings_->max_population)
      throw HttpError(422, "not_eligible",
                      "Territoires Conseils répond aux communes de moins de " +
                          std::to_string(settings_->max_population) +
                          " habitants et aux "
                          "intercommunalités ; " +
                          commune->name + " en compte " + std::to_string(commune->population) +
                          ". " + where_to_turn(*commune));
    const auto now = now_seconds();
    Stored s;
    s.id = random_id();
    s.commune = commune->code;
    s.department = commune->department;
    s.requester = who.subject;
    s.requester_name = who.display_name;
    s.requester_email = who.email;
    s.theme = theme->id;
    s.subject = subject;
    s.question = question;
    s.created_at = s.updated_at = now;
    s.due_at = now + std::int64_t{theme->days} * 86400;
    s.version = 1;
    const std::string change = random_id();
    std::vector<Statement> writes{
        {"INSERT INTO conseils_requests (id, commune, department, requester, requester_name,"
         " requester_email, theme, subject, question, status, advisor, advisor_name,"
         " advisor_email, answer, created_at, due_at, updated_at, version, last_change) VALUES"
         " (?1, ?2, ?3, ?4, ?5, ?12, ?6, ?7, ?8, 'submitted', '', '', '', '', ?9, ?10, ?9, 1,"
         " ?11)",
         {s.id, s.commune, s.department, s.requester, s.requester_name, s.theme, s.subject,
          s.question, now, s.due_at, change, s.requester_email}},
        history(s.id, change, now, who, "", Status::submitted)};
    for (auto& mail : mails_for(s, who, now, change)) writes.push_back(std::move(mail));
    co_await host_->database().transaction(std::move(writes));
    wake_sender();
    Response res = Response::json(detail(s, Party::requester, {}, {}, now), 201);
    res.headers.emplace_back("ETag", etag(s));
    res.headers.emplace_back("Location", "/api/conseils/requests/" + s.id);
    co_return res;
  }

  // A history row, written only if the request's row carries `change` (the change it
  // belongs to was written: its conditional UPDATE comes first in the transaction).
  static Statement history(const std::string& id, const std::string& change, std::int64_t at,
                           const Identity& who, std::string from, Status to) {
    return {
        "INSERT INTO conseils_history (request_id, version, at, actor, actor_name,"
        " from_status, to_status) SELECT ?1, version, ?2, ?3, ?4, ?5, ?6 FROM"
        " conseils_requests WHERE id = ?1 AND last_change = ?7",
        {id, at, who.subject, who.display_name, std::move(from), std::string(name_of(to)), change}};
  }

  // The queue of an advisor's themes, with the filters given (status, theme, department,
  // older_than_days), oldest first.
  std::pair<std::string, std::vector<SqlValue>> queue_query(const std::vector<std::string>& themes,
                                                            const Request* r, std::int64_t limit,
                                                            std::int64_t offset = 0) const {
    std::vector<SqlValue> params;
    const auto param = [&params](SqlValue v) {
      params.push_back(std::move(v));
      return "?" + std::to_string(params.size());
    };
    std::string in;
    for (const auto& t : themes) in += (in.empty() ? "" : ", ") + param(t);
    std::string sql =
        std::string("SELECT ") + kColumns + " FROM conseils_requests WHERE theme IN (" + in + ")";
    if (r) sql += filters(*r, param);
    // Without a status asked, the queue is what waits on the advisors.
    if (!r || !r->query_param("status") || r->query_param("status")->empty())
      sql += " AND status IN ('submitted', 'assigned', 'reopened')";
    sql += " ORDER BY created_at, id LIMIT " + param(limit) + " OFFSET " + param(offset);
    return {std::move(sql), std::move(params)};
  }

  template <class Param>
  std::string filters(const Request& r, Param& param) const {
    std::string sql;
    if (auto status = r.query_param("status"); status && !status->empty()) {
      if (!status_named(*status)) throw HttpError(400, "bad_request", "status: unknown");
      sql += " AND status = " + param(*status);
    }
    if (auto theme = r.query_param("theme"); theme && !theme->empty())
      sql += " AND theme = " + param(theme->substr(0, 40));
    if (auto dep = r.query_param("department"); dep && !dep->empty())
      sql += " AND department = " + param(dep->substr(0, 3));
    if (auto age = r.query_param("older_than_days"); age && !age->empty()) {
      if (age->size() > 4 || age->find_first_not_of("0123456789") != std::string::npos)
        throw HttpError(400, "bad_request", "older_than_days: a number of days");
      sql += " AND created_at <= " + param(now_seconds() - std::stoll(*age) * 86400);
    }
    return sql;
  }

  Task<Response> list(Request r) {
    const Identity& who = *r.identity;
    std::int64_t limit = 20, offset = 0;
    if (auto l = r.query_param("limit")) {
      if (l->empty() || l->size() > 3 || l->find_first_not_of("0123456789") != std::string::npos ||
          std::stoll(*l) < 1 || std::stoll(*l) > kMaxLimit)
        throw HttpError(400, "bad_request", "limit: 1 to 100");
      limit = std::stoll(*l);
    }
    if (auto c = r.query_param("cursor")) {
      if (c->empty() || c->size() > 6 || c->find_first_not_of("0123456789") != std::string::npos)
        throw HttpError(400, "bad_request", "cursor: not one of ours");
      offset = std::stoll(*c);
    }
    std::string sql;
    std::vector<SqlValue> params;
    const auto themes = advisor_themes(who);
    if (!themes.empty()) {
      std::tie(sql, params) = queue_query(themes, &r, limit + 1, offset);
    } else if (!who.commune_insee.empty() && (who.has_role("elu") || who.has_role("agent"))) {
      const auto param = [&params](SqlValue v) {
        params.push_back(std::move(v));
        return "?" + std::to_string(params.size());
      };
      sql = std::string("SELECT ") + kColumns +
            " FROM conseils_requests WHERE commune = " + param(who.commune_insee) +
            filters(r, param) + " ORDER BY created_at DESC, id DESC LIMIT " + param(limit + 1) +
            " OFFSET " + param(offset);
    } else {
      co_return Response::json(json::object{{"requests", json::array{}}, {"next_cursor", nullptr}});
    }
    Statement statement{std::move(sql), std::move(params)};
    const QueryResult rows = co_await host_->database().query(std::move(statement));
    const auto now = now_seconds();
    json::array items;
    for (std::size_t i = 0; i < rows.rows.size() && static_cast<std::int64_t>(i) < limit; ++i)
      items.push_back(summary(stored_of(rows.rows[i]), now));
    json::object out{{"requests", std::move(items)}};
    out["next_cursor"] = static_cast<std::int64_t>(rows.rows.size()) > limit
                             ? json::value(std::to_string(offset + limit))
                             : json::value(nullptr);
    co_return Response::json(out);
  }

  json::object detail(const Stored& s, Party party, const QueryResult& history_rows,
                      const QueryResult& message_rows, std::int64_t now) const {
    json::object o = summary(s, now);
    o["question"] = s.question;
    o["answer"] = s.answer.empty() ? json::value(nullptr) : json::value(s.answer);
    o["version"] = s.version;
    json::array history;
    for (const auto& row : history_rows.rows)
      history.push_back(json::object{
          {"at", iso_utc(int_of(row[0]))},
          {"by", text_of(row[1])},
          {"from", text_of(row[2]).empty() ? json::value(nullptr) : json::value(text_of(row[2]))},
          {"to", text_of(row[3])}});
    o["history"] = std::move(history);
    json::array messages;
    for (const auto& row : message_rows.rows) {
      const bool internal = int_of(row[3]) != 0;
      if (internal && party != Party::advisor) continue;  // advisors' notes stay theirs
      messages.push_back(json::object{{"at", iso_utc(int_of(row[0]))},
                                      {"by", text_of(row[1])},
                                      {"body", text_of(row[2])},
                                      {"internal", internal}});
    }
    o["messages"] = std::move(messages);
    return o;
  }

  // Where a commune too large for the service turns: its regional directorate, asked of the
  // directorates plugin through the host; without it (not loaded, not running), its page.
  std::string where_to_turn(const Commune& commune) const {
    if (const auto lookup = host_->lookup_as<directorates::Lookup>(directorates::kService))
      if (const auto d = lookup->for_commune(commune.code)) {
        std::string how;
        if (!d->phone.empty()) how += ", " + d->phone;
        if (!d->email.empty()) how += ", " + d->email;
        return "Pour " + commune.name + ", votre direction régionale vous accompagne : " + d->name +
               how + ".";
      }
    return "Pour " + commune.name +
           ", votre direction régionale vous accompagne : voir /api/directorates/mine.";
  }

  // Before an upload is read: the request is the caller's to see, still open, not full.
  Task<void> may_attach(Request r) {
    const Stored s = co_await load_visible(r);
    if (s.status == Status::closed || s.status == Status::withdrawn)
      throw HttpError(409, "conflict",
                      "a request " + std::string(name_of(s.status)) + " takes no more files");
    Statement used{
        "SELECT count(*), coalesce(sum(size), 0) FROM conseils_attachments WHERE request_id = ?1",
        {s.id}};
    const QueryResult rows = co_await host_->database().query(std::move(used));
    if (int_of(rows.rows.at(0).at(0)) >= max_files_ ||
        int_of(rows.rows.at(0).at(1)) >= quota_bytes_)
      throw quota_exceeded();
  }

  HttpError quota_exceeded() const {
    return HttpError(413, "quota_exceeded",
                     "Une demande peut porter " + std::to_string(max_files_) + " fichiers et " +
                         std::to_string(quota_bytes_ / (1024 * 1024)) +
                         " Mo au plus : celle-ci est pleine.");
  }

  // POST /api/conseils/requests/{id}/attachments: files for a request still open, within its
  // quota. The host received them (typed, scanned); they are the request's once named here.
  Task<Response> attach(Request r) {
    const Identity& who = *r.identity;
    Party party = Party::requester;
    const Stored s = co_await load_visible(r, &party);
    if (s.status == Status::closed || s.status == Status::withdrawn)
      throw HttpError(409, "conflict",
                      "a request " + std::string(name_of(s.status)) + " takes no more files");
    if (r.files.empty()) throw HttpError(422, "no_file", "choose at least one file");
    // The request's row is locked first (an UPDATE that changes nothing): on PostgreSQL a
    // second upload to the same request waits for this one's commit, then its inserts see
    // this one's rows; SQLite runs one write transaction at a time anyway. Each file is named
    // only if the request stays within its quota with it.
    const auto now = now_seconds();
    std::vector<Statement> writes;
    writes.push_back({"UPDATE conseils_requests SET version = version WHERE id = ?1", {s.id}});
    for (const Attachment& file : r.files)
      writes.push_back(
          {"INSERT INTO conseils_attachments (attachment_id, request_id, filename, media_type,"
           " size, author, author_name, at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8"
           " FROM conseils_requests WHERE id = ?2"
           " AND (SELECT count(*) FROM conseils_attachments WHERE request_id = ?2) < ?9"
           " AND (SELECT coalesce(sum(size), 0) FROM conseils_attachments"
           " WHERE request_id = ?2) + ?5 <= ?10",
           {file.id, s.id, file.filename, file.media_type, file.size, who.subject, who.display_name,
            now, max_files_, quota_bytes_}});
    const auto written = co_await host_->database().transaction(std::move(writes));
    bool within = true;
    for (std::size_t i = 1; i < written.size(); ++i) within = within && written[i].changes == 1;
    std::optional<Response> answer;
    std::exception_ptr failure;
    if (within) {
      try {
        answer.emplace(co_await answer_detail(s, party));
        answer->status = 201;
      } catch (...) {
        failure = std::current_exception();
      }
    }
    if (!answer) {
      // The host removes the files of an upload it is not answered 201 for: their rows go.
      std::vector<Statement> drops;
      for (const Attachment& file : r.files)
        drops.push_back({"DELETE FROM conseils_attachments WHERE attachment_id = ?1", {file.id}});
      co_await host_->database().transaction(std::move(drops));
      if (failure) std::rethrow_exception(failure);
      throw quota_exceeded();
    }
    co_return std::move(*answer);
  }

  // GET /api/conseils/requests/{id}/attachments/{file}: for whoever may read the request.
  Task<Response> attachment(Request r) {
    const Stored s = co_await load_visible(r);
    const std::string& file = r.param("file");
    Statement one{
        "SELECT attachment_id FROM conseils_attachments WHERE request_id = ?1 AND"
        " attachment_id = ?2",
        {s.id, file}};
    if ((co_await host_->database().query(std::move(one))).rows.empty())
      throw HttpError(404, "not_found", "no such file");
    co_return co_await host_->attachments().download(file);
  }

  Task<Response> get(Request r) {
    Party party = Party::requester;
    const Stored s = co_await load_visible(r, &party);
    co_return co_await answer_detail(s, party);
  }

  // The request as its reader may see it (internal notes for advisors), with its ETag.
  Task<Response> answer_detail(const Stored& s, Party party) {
    std::vector<Statement> reads{
        {"SELECT at, actor_name, from_status, to_status FROM conseils_history"
         " WHERE request_id = ?1 ORDER BY version",
         {s.id}},
        {"SELECT at, author_name, body, internal FROM conseils_messages WHERE request_id = ?1"
         " ORDER BY at, id",
         {s.id}},
        {"SELECT attachment_id, filename, media_type, size, author_name, at"
         " FROM conseils_attachments WHERE request_id = ?1 ORDER BY at, attachment_id",
         {s.id}}};
    const auto results = co_await host_->database().transaction(std::move(reads));
    json::object o = detail(s, party, results[0], results[1], now_seconds());
    json::array files;
    for (const auto& row : results[2].rows)
      files.push_back(json::object{
          {"id", text_of(row[0])},
          {"filename", text_of(row[1])},
          {"media_type", text_of(row[2])},
          {"size", int_of(row[3])},
          {"by", text_of(row[4])},
          {"at", iso_utc(int_of(row[5]))},
          {"url", "/api/conseils/requests/" + s.id + "/attachments/" + text_of(row[0])}});
    o["attachments"] = std::move(files);
    Response res = Response::json(o);
    res.headers.emplace_back("ETag", etag(s));
    co_return res;
  }

  // POST /api/conseils/requests/{id}/{action}: a move of the workflow (assign, answer, close,
  // reopen, withdraw) or a message ("messages").
  Task<Response> act(Request r) {
    const Identity& who = *r.identity;
    Party party = Party::requester;
    Stored s = co_await load_visible(r, &party);
    // Changed since the caller read it: 412, nothing written.
    if (auto if_match = r.header("if-match");
        if_match && *if_match != "*" && if_match->find(etag(s)) == std::string::npos)
      throw HttpError(412, "precondition_failed",
                      "the request changed since it was read (version " +
                          std::to_string(s.version) + "): read it again");
    const json::object body = r.body.empty() ? json::object{} : body_object(r);
    const std::string& name = r.param("action");
    const auto now = now_seconds();
    const std::string change = random_id();
    std::vector<Statement> writes;
    if (name == "messages") {
      const std::string text = text_field(body, "body", 20'000, false, true);
      const auto* internal_v = body.if_contains("internal");
      const bool internal = internal_v && internal_v->is_bool() && internal_v->as_bool();
      if (internal && party != Party::advisor)
        throw HttpError(403, "forbidden", "internal notes are for advisors");
      // A message is no change of the request (its version stays: a message written meanwhile
      // does not make an advisor's move fail); at most kMaxMessages per request.
      Statement add{
          "INSERT INTO conseils_messages (id, request_id, at, author, author_name,"
          " internal, body) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 FROM conseils_requests"
          " WHERE id = ?2 AND (SELECT count(*) FROM conseils_messages WHERE"
          " request_id = ?2) < ?8",
          {random_id(), s.id, now, who.subject, who.display_name, std::int64_t{internal ? 1 : 0},
           text, kMaxMessages}};
      if ((co_await host_->database().query(std::move(add))).changes != 1)
        throw HttpError(422, "too_many_messages",
                        "a request holds at most " + std::to_string(kMaxMessages) +
                            " messages: answer or close it");
      co_return co_await answer_detail(s, party);
    } else if (name == "publish") {
      co_return co_await publish(r, s, party);
    } else {
      const auto action = action_named(name);
      if (!action) throw HttpError(404, "not_found", "no such action");
      if (!allowed(*action, party))
        throw HttpError(403, "forbidden",
                        party == Party::advisor ? "this is the requester's to do"
                                                : "this is an advisor's to do");
      const auto to = move(s.status, *action);
      if (!to)
        throw HttpError(409, "conflict",
                        "a request " + std::string(name_of(s.status)) + " cannot be " +
                            (name == "assign"   ? "assigned"
                             : name == "answer" ? "answered"
                             : name == "close"  ? "closed"
                             : name == "reopen" ? "reopened"
                                                : "withdrawn"));
      if (*action == Action::assign) {
        // To oneself, or to another advisor of the theme (by email).
        std::string to_email = text_field(body, "advisor_email", 200, true);
        for (char& c : to_email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (to_email.empty() || to_email == who.email) {
          s.advisor = who.subject;
          s.advisor_name = who.display_name;
          s.advisor_email = who.email;
        } else {
          const auto their = settings_->themes_of(to_email);
          if (std::find(their.begin(), their.end(), s.theme) == their.end())
            throw HttpError(422, "invalid_field",
                            "advisor_email: no advisor of this theme has that address");
          s.advisor = "email:" + to_email;  // their subject is learnt when they act
          s.advisor_name = "Un conseiller ou une conseillère";  // their address is not shown
          s.advisor_email = to_email;
        }
      }
      if (*action == Action::answer) {
        std::string email = who.email;
        for (char& c : email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (s.advisor != who.subject && s.advisor != "email:" + email)
          throw HttpError(403, "forbidden", "the request is assigned to another advisor");
        s.answer = text_field(body, "answer", 50'000, false, true);
        s.advisor = who.subject;
        s.advisor_name = who.display_name;
        s.advisor_email = who.email;
      }
      const std::string from(name_of(s.status));
      s.status = *to;
      writes.push_back(
          {"UPDATE conseils_requests SET status = ?2, advisor = ?3, advisor_name = ?4,"
           " answer = ?5, updated_at = ?6, version = version + 1, last_change = ?8,"
           " advisor_email = ?9 WHERE id = ?1 AND version = ?7",
           {s.id, std::string(name_of(s.status)), s.advisor, s.advisor_name, s.answer, now,
            s.version, change, s.advisor_email}});
      writes.push_back(history(s.id, change, now, who, from, *to));
      for (auto& mail : mails_for(s, who, now, change)) writes.push_back(std::move(mail));
    }
    // The row's version is the condition: a change that raced this one makes its UPDATE write
    // nothing, and the rows bound to it (history, mail) with it.
    const auto results = co_await host_->database().transaction(std::move(writes));
    if (results[0].changes != 1)
      throw HttpError(412, "precondition_failed", "the request changed meanwhile: read it again");
    wake_sender();
    ++s.version;
    s.updated_at = now;
    co_return co_await answer_detail(s, party);
  }

  // The mail a change sends: to the requester and to the advisor in charge, not to the one
  // who made it (but the requester gets a receipt of a new request, with its due date); bound
  // to the change (written only if the change was).
  std::vector<Statement> mails_for(const Stored& s, const Identity& who, std::int64_t now,
                                   const std::string& change) const {
    static const std::map<Status, std::string> kWhat = {
        {Status::submitted, "a été déposée"},     {Status::assigned, "est prise en charge"},
        {Status::answered, "a reçu une réponse"}, {Status::closed, "est close"},
        {Status::reopened, "a été rouverte"},     {Status::withdrawn, "a été retirée"}};
    std::string short_subject = s.subject;
    if (short_subject.size() > 150) {  // cut on a character's boundary
      std::size_t cut = 150;
      while (cut > 0 && (static_cast<unsigned char>(short_subject[cut]) & 0xC0) == 0x80) --cut;
      short_subject = short_subject.substr(0, cut) + "…";
    }
    const std::string subject =
        "Votre demande de conseil " + kWhat.at(s.status) + " : " + short_subject;
    std::string text = "Bonjour,\n\nLa demande « " + s.subject + " » " + kWhat.at(s.status) + " (" +
                       who.display_name + ").\n";
    if (s.status == Status::submitted)
      text += "\nUne réponse est attendue avant le " + iso_utc(s.due_at).substr(0, 10) +
              " (année-mois-jour).\n";
    if (s.status == Status::answered) text += "\nRéponse :\n" + s.answer + "\n";
    text += "\nRetrouvez-la sur Passerelle, rubrique Conseils.\n\n-- \nTerritoires Conseils\n";
    std::vector<Statement> out;
    std::set<std::string> to;
    // The one who made the change is not told of it, but for the receipt of a new request.
    for (const std::string& address : {s.requester_email, s.advisor_email})
      if (!address.empty() && (address != who.email || s.status == Status::submitted) &&
          to.insert(address).second)
        out.push_back(
            {"INSERT INTO conseils_outbox (id, request_id, to_addr, subject, body,"
             " created_at, attempts, next_at, sent_at, last_error, claim) SELECT ?1, ?2, ?3,"
             " ?4, ?5, ?6, 0, ?6, 0, '', '' FROM conseils_requests WHERE id = ?2 AND"
             " last_change = ?7",
             {random_id(), s.id, address, subject, text, now, change}});
    return out;
  }

  // A change made while the sender is sending (not waiting) is not lost: the flag sends it
  // round again before it waits.
  void wake_sender() {
    if (!sending_) return;
    wake_pending_ = true;
    boost::asio::post(executor_, [this] { wake_->cancel(); });
  }

  // Sends what is due, then sleeps until the next due row (at most a minute) or a change.
  Task<void> send_loop() {
    struct Ended {
      std::atomic<bool>& sending;
      ~Ended() { sending = false; }
    } ended{sending_};
    while (!stopping_) {
      std::int64_t next = 60;
      wake_pending_ = false;
      try {
        next = co_await send_due();
      } catch (const std::exception& e) {
        host_->logger().error(std::string("outbox: ") + e.what());
      }
      if (stopping_) break;
      if (wake_pending_) continue;
      wake_->expires_after(std::chrono::seconds(std::clamp<std::int64_t>(next, 1, 60)));
      co_await wake_->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

  // One pass over the due rows; returns the seconds until the next one is due.
  Task<std::int64_t> send_due() {
    const auto now = now_seconds();
    Statement due{
        "SELECT id, to_addr, subject, body, attempts, next_at FROM conseils_outbox"
        " WHERE sent_at = 0 AND next_at <= ?1 ORDER BY next_at, id LIMIT 20",
        {now}};
    const QueryResult rows = co_await host_->database().query(std::move(due));
    for (const auto& row : rows.rows) {
      if (stopping_) co_return 1;
      const std::string id = text_of(row[0]);
      const std::int64_t attempts = int_of(row[4]);
      // Claimed for ten minutes (longer than the pool's queue and the relay's timeout): another
      // instance passing by leaves it alone; the updates after the send need the same claim.
      const std::string claim_token = random_id();
      Statement claim{
          "UPDATE conseils_outbox SET next_at = ?3, claim = ?4 WHERE id = ?1 AND"
          " next_at = ?2 AND sent_at = 0",
          {id, int_of(row[5]), now + 600, claim_token}};
      if ((co_await host_->database().query(std::move(claim))).changes != 1) continue;
      Mail mail{text_of(row[1]), text_of(row[2]), text_of(row[3])};
      std::string error;
      try {
        co_await host_->mail().send(std::move(mail));
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (error.empty()) {
        Statement sent{
            "UPDATE conseils_outbox SET sent_at = ?2, attempts = ?3, last_error = ''"
            " WHERE id = ?1 AND claim = ?4",
            {id, now_seconds(), attempts + 1, claim_token}};
        co_await host_->database().query(std::move(sent));
        continue;
      }
      // Back-off: mail_retry, doubling at each failure, at most an hour; given up after
      // kMaxAttempts (about 15 hours of a relay down at the default).
      std::int64_t wait = std::chrono::duration_cast<std::chrono::seconds>(retry_).count();
      for (std::int64_t i = 0; i < attempts && wait < 3600; ++i) wait *= 2;
      wait = std::min<std::int64_t>(wait, 3600);
      const bool give_up = attempts + 1 >= kMaxAttempts;
      host_->logger().warn(
          give_up ? "outbox: a mail is given up after " + std::to_string(attempts + 1) +
                        " attempts: " + error.substr(0, 300)
                  : "outbox: a mail is kept for later (attempt " + std::to_string(attempts + 1) +
                        ", again in " + std::to_string(wait) + " s): " + error.substr(0, 300));
      Statement later{
          "UPDATE conseils_outbox SET attempts = ?2, next_at = ?3, last_error = ?4,"
          " sent_at = ?6 WHERE id = ?1 AND claim = ?5",
          {id, attempts + 1, now_seconds() + wait, error.substr(0, 300), claim_token,
           std::int64_t{give_up ? -1 : 0}}};
      co_await host_->database().query(std::move(later));
    }
    // Sent mail is kept 30 days (what was told to whom), then goes.
    Statement purge{"DELETE FROM conseils_outbox WHERE sent_at <> 0 AND created_at < ?1",
                    {now - 30 * 86400}};
    co_await host_->database().query(std::move(purge));
    Statement soonest{"SELECT min(next_at) FROM conseils_outbox WHERE sent_at = 0", {}};
    const QueryResult next = co_await host_->database().query(std::move(soonest));
    if (next.rows.empty() || !std::holds_alternative<std::int64_t>(next.rows[0][0])) co_return 60;
    co_return int_of(next.rows[0][0]) - now_seconds();
  }

  // --- the knowledge base ------------------------------------------------------------------

  // An answered request, anonymised, into the knowledge base (again: replaced). The advisor
  // may give edited texts (`title`, `question`, `answer`); they are anonymised too.
  Task<Response> publish(const Request& r, const Stored& s, Party party) {
    if (party != Party::advisor)
      throw HttpError(403, "forbidden", "publishing is an advisor's to do");
    if (s.status != Status::answered && s.status != Status::closed)
      throw HttpError(409, "conflict",
                      "a request " + std::string(name_of(s.status)) + " cannot be published");
    const json::object body = r.body.empty() ? json::object{} : body_object(r);
    Known known;
    if (const Commune* c = host_->territories().commune(s.commune)) {
      known.communes.push_back(c->name);
      known.codes.push_back(c->code);
      for (const auto& postal : c->postal_codes) known.codes.push_back(postal);
    }
    known.communes.push_back(s.commune);
    for (const auto& person : {s.requester_name, s.advisor_name, r.identity->display_name})
      if (!person.empty()) known.people.push_back(person);
    for (const auto& address : {s.requester_email, s.advisor_email})
      if (!address.empty()) known.people.push_back(address);
    const auto text = [&](const char* field, const std::string& fallback, std::size_t max) {
      std::string given = text_field(body, field, max, true, std::string(field) != "title");
      return anonymise(given.empty() ? fallback : given, known);
    };
    const std::string title = text("title", s.subject, 200);
    const std::string question = text("question", s.question, 20'000);
    const std::string answer = text("answer", s.answer, 50'000);
    french::TermMaker terms;
    const std::string search = terms.terms(title + " " + question + " " + answer);
    const auto now = now_seconds();
    Statement upsert{
        "INSERT INTO conseils_knowledge (id, request_id, theme, title, question, answer,"
        " published_at, published_by, search) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (request_id) DO UPDATE SET title = excluded.title,"
        " question = excluded.question, answer = excluded.answer,"
        " published_at = excluded.published_at, published_by = excluded.published_by,"
        " search = excluded.search",
        {random_id(), s.id, s.theme, title, question, answer, now, r.identity->display_name,
         search}};
    co_await host_->database().query(std::move(upsert));
    Statement stored{
        "SELECT id, theme, title, question, answer, published_at FROM"
        " conseils_knowledge WHERE request_id = ?1",
        {s.id}};
    const QueryResult rows = co_await host_->database().query(std::move(stored));
    if (rows.rows.empty()) throw std::runtime_error("the published entry is not there");
    co_return Response::json(entry_json(rows.rows[0], true), 201);
  }

  json::object entry_json(const std::vector<SqlValue>& row, bool whole) const {
    const Theme* theme = settings_->theme(text_of(row[1]));
    json::object o{{"id", text_of(row[0])},
                   {"theme", text_of(row[1])},
                   {"theme_label", theme ? theme->label : text_of(row[1])},
                   {"title", text_of(row[2])},
                   {"published_at", iso_utc(int_of(row[5]))}};
    if (whole) {
      o["question"] = text_of(row[3]);
      o["answer"] = text_of(row[4]);
    } else {
      std::string excerpt = text_of(row[3]).substr(0, 280);
      while (!excerpt.empty() && (static_cast<unsigned char>(excerpt.back()) & 0xC0) == 0x80)
        excerpt.pop_back();  // a whole character (a lead byte left alone goes next)
      if (!excerpt.empty() && static_cast<unsigned char>(excerpt.back()) >= 0xC0)
        excerpt.pop_back();
      o["excerpt"] = excerpt;
    }
    return o;
  }

  // GET /api/conseils/knowledge?q=&theme=&cursor=&limit=: by relevance with q, else newest.
  Task<Response> knowledge(Request r) {
    std::int64_t limit = 20, offset = 0;
    if (auto l = r.query_param("limit")) {
      if (l->empty() || l->size() > 2 || l->find_first_not_of("0123456789") != std::string::npos ||
          std::stoll(*l) < 1 || std::stoll(*l) > 50)
        throw HttpError(400, "bad_request", "limit: 1 to 50");
      limit = std::stoll(*l);
    }
    if (auto c = r.query_param("cursor")) {
      if (c->empty() || c->size() > 5 || c->find_first_not_of("0123456789") != std::string::npos)
        throw HttpError(400, "bad_request", "cursor: not one of ours");
      offset = std::stoll(*c);
    }
    std::vector<SqlValue> params;
    const auto param = [&params](SqlValue v) {
      params.push_back(std::move(v));
      return "?" + std::to_string(params.size());
    };
    std::string theme_filter;
    if (auto theme = r.query_param("theme"); theme && !theme->empty())
      theme_filter = " AND k.theme = " + param(theme->substr(0, 40));
    const std::string columns = "k.id, k.theme, k.title, k.question, k.answer, k.published_at";
    std::string sql;
    std::vector<french::QueryTerm> terms;
    if (auto q = r.query_param("q"); q && !q->empty()) {
      if (q->size() > 200) throw HttpError(400, "bad_request", "q: at most 200 characters");
      terms = french::query_terms(*q);
      if (terms.empty())
        co_return Response::json(
            json::object{{"entries", json::array{}}, {"next_cursor", nullptr}});
    }
    const bool postgresql = host_->database().dialect() == "postgresql";
    if (terms.empty()) {
      sql = "SELECT " + columns + " FROM conseils_knowledge k WHERE 1 = 1" + theme_filter +
            " ORDER BY k.published_at DESC, k.n DESC";
    } else if (postgresql) {
      std::string query;
      for (const auto& t : terms)
        query += (query.empty() ? "" : " & ") + t.term + (t.prefix ? ":*" : "");
      const std::string m = param(query);
      sql = "SELECT " + columns +
            " FROM conseils_knowledge k WHERE k.search_vector @@"
            " to_tsquery('simple', " +
            m + ")" + theme_filter + " ORDER BY ts_rank(k.search_vector, to_tsquery('simple', " +
            m + ")) DESC, k.published_at DESC, k.n DESC";
    } else {
      std::string match;
      for (const auto& t : terms)
        match += (match.empty() ? "\"" : " \"") + t.term + (t.prefix ? "\"*" : "\"");
      sql = "SELECT " + columns +
            " FROM (SELECT rowid AS hit, bm25(conseils_knowledge_fts) AS"
            " score FROM conseils_knowledge_fts WHERE conseils_knowledge_fts MATCH " +
            param(match) +
            " ORDER BY score LIMIT 2000) AS h JOIN conseils_knowledge k ON"
            " k.n = h.hit WHERE 1 = 1" +
            theme_filter + " ORDER BY h.score, k.published_at DESC";
    }
    sql += " LIMIT " + param(limit + 1) + " OFFSET " + param(offset);
    Statement statement{std::move(sql), std::move(params)};
    const QueryResult rows = co_await host_->database().query(std::move(statement));
    json::array entries;
    for (std::size_t i = 0; i < rows.rows.size() && static_cast<std::int64_t>(i) < limit; ++i)
      entries.push_back(entry_json(rows.rows[i], false));
    json::object out{{"entries", std::move(entries)}};
    out["next_cursor"] = static_cast<std::int64_t>(rows.rows.size()) > limit
                             ? json::value(std::to_string(offset + limit))
                             : json::value(nullptr);
    co_return Response::json(out);
  }

  Task<Response> knowledge_entry(Request r) {
    const std::string& id = r.param("id");
    if (!well_formed_id(id)) throw HttpError(404, "not_found", "no such entry");
    Statement one{
        "SELECT id, theme, title, question, answer, published_at FROM"
        " conseils_knowledge WHERE id = ?1",
        {id}};
    const QueryResult rows = co_await host_->database().query(std::move(one));
    if (rows.rows.empty()) throw HttpError(404, "not_found", "no such entry");
    co_return Response::json(entry_json(rows.rows[0], true));
  }

  // An advisor of its theme takes an entry out of the knowledge base.
  Task<Response> unpublish(Request r) {
    const std::string& id = r.param("id");
    if (!well_formed_id(id)) throw HttpError(404, "not_found", "no such entry");
    Statement one{"SELECT theme FROM conseils_knowledge WHERE id = ?1", {id}};
    const QueryResult rows = co_await host_->database().query(std::move(one));
    const auto themes = advisor_themes(*r.identity);
    if (rows.rows.empty() ||
        std::find(themes.begin(), themes.end(), text_of(rows.rows[0][0])) == themes.end())
      throw HttpError(404, "not_found", "no such entry");
    Statement gone{"DELETE FROM conseils_knowledge WHERE id = ?1", {id}};
    co_await host_->database().query(std::move(gone));
    Response res;
    res.status = 204;
    co_return res;
  }

  Task<Response> themes(Request) {
    json::array out;
    for (const auto& t : settings_->themes)
      out.push_back(json::object{{"id", t.id}, {"label", t.label}, {"days", t.days}});
    co_return Response::json(json::object{{"themes", std::move(out)}});
  }

  // Operators: how many requests, by status and theme, and how many overdue. No content.
  Task<Response> stats(Request) {
    Statement counts{
        "SELECT status, theme, count(*), sum(CASE WHEN due_at < ?1 AND status IN ('submitted',"
        " 'assigned', 'reopened') THEN 1 ELSE 0 END) FROM conseils_requests"
        " GROUP BY status, theme ORDER BY status, theme",
        {now_seconds()}};
    const QueryResult rows = co_await host_->database().query(std::move(counts));
    json::array out;
    std::int64_t overdue = 0;
    for (const auto& row : rows.rows) {
      out.push_back(json::object{
          {"status", text_of(row[0])}, {"theme", text_of(row[1])}, {"requests", int_of(row[2])}});
      overdue += int_of(row[3]);
    }
    co_return Response::json(json::object{{"counts", std::move(out)}, {"overdue", overdue}});
  }

  Host* host_ = nullptr;
  std::shared_ptr<const Settings> settings_;
  std::chrono::milliseconds retry_{60'000};
  std::int64_t quota_bytes_ = 25 * 1024 * 1024;
  std::int64_t max_files_ = 20;
  boost::asio::any_io_executor executor_;
  std::unique_ptr<boost::asio::steady_timer> wake_;
  std::atomic<bool> sending_ = false;
  std::atomic<bool> stopping_ = false;
  std::atomic<bool> wake_pending_ = false;
};

}  // namespace passerelle::plugins::conseils

PASSERELLE_PLUGIN(passerelle::plugins::conseils::ConseilsPlugin)
