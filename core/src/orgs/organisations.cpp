#include "orgs/organisations.hpp"

#include "auth/accounts.hpp"
#include "auth/crypto.hpp"
#include "log/log.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <memory>

namespace passerelle {

namespace json = boost::json;

namespace {

const std::string& text(const SqlValue& v) {
  static const std::string kEmpty;
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : kEmpty;
}
std::int64_t integer(const SqlValue& v) {
  return std::holds_alternative<std::int64_t>(v) ? std::get<std::int64_t>(v) : 0;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto end = s.find(' ', start);
    if (end != start) out.push_back(s.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

class Organisations {
 public:
  Organisations(Store& store, Accounts& accounts, std::function<const Territories&()> territories,
                std::function<std::vector<std::string>()> services)
      : store_(store),
        accounts_(accounts),
        territories_(std::move(territories)),
        services_(std::move(services)) {}

  static constexpr std::int64_t kInvitationSeconds = 7 * 24 * 3600;

  // POST /api/organisations/{code}/invitations {email, account_role, role, services}: a link
  // for the invited person, answered to whoever invites (no mail relay in the core yet: they
  // pass it on). The token is kept hashed; it is shown once, here.
  Task<Response> invite(CoreRequest r) {
    const std::string code = co_await managed(r);
    const json::object body = body_of(r);
    const json::value* email = body.if_contains("email");
    if (!email || !email->is_string() || email->as_string().size() > 200 ||
        std::string_view(email->as_string()).find('@') == std::string_view::npos ||
        std::any_of(email->as_string().begin(), email->as_string().end(),
                    [](char c) { return static_cast<unsigned char>(c) <= ' '; }))
      throw HttpError(422, "invalid_field", "email: an address");
    const json::value* account_role = body.if_contains("account_role");
    const std::string kind = account_role && account_role->is_string()
                                 ? std::string(account_role->as_string())
                                 : "agent";
    if (kind != "elu" && kind != "agent")
      throw HttpError(422, "invalid_field", "account_role: elu or agent");
    auto [role, services] = role_and_services(body);
    const std::string token = auth::random_token(32);
    const auto now = unix_seconds();
    const AuthContext& caller = r.caller();
    Statement add{
        "INSERT INTO invitations (token_hash, organisation, email, account_role, role, services,"
        " invited_by, created_at, expires_at, used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
        " ?9, 0)",
        {auth::sha256_hex(token), code, std::string(email->as_string()), kind, role, join(services),
         caller.identity.subject, now, now + kInvitationSeconds}};
    co_await store_.query(std::move(add));
    log_change(caller, "member invited", code, std::string(email->as_string()),
               role + " " + join(services));
    co_return Response::json(json::object{{"accept", "/api/invitations/" + token + "/accept"},
                                          {"email", email->as_string()},
                                          {"expires_at", now + kInvitationSeconds}},
                             201);
  }

  // POST /api/invitations/{token}/accept {username, password, display_name}: the account and
  // its membership; the invitation is used once, within its 7 days (else 410).
  Task<Response> accept(CoreRequest r) {
    const std::string token = r.path_params.at("token");
    if (token.size() != 43) throw HttpError(404, "not_found", "no such invitation");
    const json::object body = body_of(r);
    const auto field = [&body](const char* name) {
      const json::value* v = body.if_contains(name);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    const std::string hash = auth::sha256_hex(token);
    const auto now = unix_seconds();
    // Claimed first: two acceptances at once, one wins.
    Statement claim{
        "UPDATE invitations SET used_at = ?2 WHERE token_hash = ?1 AND used_at = 0"
        " AND expires_at > ?2",
        {hash, now}};
    if ((co_await store_.query(std::move(claim))).changes != 1) {
      Statement known{"SELECT used_at FROM invitations WHERE token_hash = ?1", {hash}};
      if ((co_await store_.query(std::move(known))).rows.empty())
        throw HttpError(404, "not_found", "no such invitation");
      throw HttpError(410, "invitation_gone", "this invitation was used or has expired");
    }
    Statement read{
        "SELECT organisation, email, account_role, role, services, invited_by"
        " FROM invitations WHERE token_hash = ?1",
        {hash}};
    const QueryResult rows = co_await store_.query(std::move(read));
    const auto& inv = rows.rows.at(0);
    NewAccount account{field("username"),
                       field("password"),
                       field("display_name"),
                       text(inv[1]),
                       {text(inv[2])},
                       text(inv[0]).size() == 5 ? text(inv[0]) : std::string(),
                       ""};
    std::int64_t user = 0;
    std::exception_ptr failure;
    try {
      user = co_await accounts_.create(std::move(account));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      // Not created (a name taken, a weak password): the invitation stays usable.
      Statement release{"UPDATE invitations SET used_at = 0 WHERE token_hash = ?1", {hash}};
      co_await store_.query(std::move(release));
      try {
        std::rethrow_exception(failure);
      } catch (const AccountError& e) {
        throw HttpError(422, "invalid_field", e.what());
      }
    }
    const std::string change = auth::random_token(16);
    AuthContext inviter;
    inviter.identity.subject = text(inv[5]);
    std::vector<Statement> writes{
        {"INSERT INTO memberships (user_id, organisation, role, services, appointed_by,"
         " appointed_at, last_change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
         {user, text(inv[0]), text(inv[3]), text(inv[4]), text(inv[5]), now, change}},
        audit(inviter, "invitation accepted", text(inv[0]), field("username"),
              text(inv[3]) + " " + text(inv[4]), change, false)};
    co_await store_.transaction(std::move(writes));
    log_change(inviter, "invitation accepted", text(inv[0]), field("username"),
               text(inv[3]) + " " + text(inv[4]));
    co_return Response::json(json::object{{"username", field("username")},
                                          {"organisation", text(inv[0])},
                                          {"role", text(inv[3])}},
                             201);
  }

  // The organisation of a code, named: a commune (5 characters) or an EPCI (9 digits). 404
  // otherwise, as for an organisation the caller may not see.
  json::object organisation(const std::string& code) const {
    const Territories& t = territories_();
    if (code.size() == 5)
      if (const Commune* c = t.commune(code))
        return {{"code", c->code}, {"name", c->name}, {"kind", "commune"}};
    if (code.size() == 9)
      if (const Epci* e = t.epci(code))
        return {{"code", e->siren}, {"name", e->name}, {"kind", "epci"}};
    throw HttpError(404, "not_found", "no such organisation");
  }

  // The organisation of the path, if the caller manages it: operators every one, a référent
  // theirs; anyone else sees nothing (404, as for an organisation that does not exist).
  Task<std::string> managed(const CoreRequest& r) {
    std::string code = r.path_params.at("code");
    organisation(code);
    const AuthContext& caller = r.caller();
    if (caller.identity.has_role("operator")) co_return code;
    Statement mine{"SELECT role FROM memberships WHERE user_id = ?1 AND organisation = ?2",
                   {caller.user_id, code}};
    const QueryResult rows = co_await store_.query(std::move(mine));
    if (rows.rows.empty() || text(rows.rows[0][0]) != "referent")
      throw HttpError(404, "not_found", "no such organisation");
    co_return code;
  }

  Task<Response> list(CoreRequest r) {
    const std::string code = co_await managed(r);
    json::object org = organisation(code);
    Statement members{
        "SELECT u.username, u.display_name, u.email, m.role, m.services, m.appointed_by,"
        " m.appointed_at FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.organisation = ?1 ORDER BY m.role DESC, u.username",
        {code}};
    const QueryResult rows = co_await store_.query(std::move(members));
    json::array items;
    for (const auto& row : rows.rows) items.push_back(member_json(row));
    co_return Response::json(
        json::object{{"organisation", std::move(org)}, {"members", std::move(items)}});
  }

  static json::object member_json(const std::vector<SqlValue>& row) {
    json::array services;
    for (auto& s : split(text(row[4]))) services.emplace_back(s);
    return {{"username", text(row[0])},        {"display_name", text(row[1])},
            {"email", text(row[2])},           {"role", text(row[3])},
            {"services", std::move(services)}, {"appointed_by", text(row[5])},
            {"appointed_at", integer(row[6])}};
  }

  // The role and services of a body: `role` referent | delegue, `services` loaded plugins.
  std::pair<std::string, std::vector<std::string>> role_and_services(const json::object& body) {
    const json::value* role = body.if_contains("role");
    if (!role || !role->is_string() ||
        (role->as_string() != "referent" && role->as_string() != "delegue"))
      throw HttpError(422, "invalid_field", "role: referent or delegue");
    std::vector<std::string> granted;
    const json::value* services = body.if_contains("services");
    if (services && !services->is_array())
      throw HttpError(422, "invalid_field", "services: a list of services");
    const auto known = services_();
    if (services)
      for (std::size_t i = 0; i < services->as_array().size(); ++i) {
        const json::value& s = services->as_array()[i];
        const std::string field = "services[" + std::to_string(i) + "]";
        if (!s.is_string() ||
            std::find(known.begin(), known.end(), std::string(s.as_string())) == known.end())
          throw HttpError(422, "invalid_field", field + ": no such service");
        if (std::find(granted.begin(), granted.end(), std::string(s.as_string())) == granted.end())
          granted.emplace_back(s.as_string());
      }
    std::sort(granted.begin(), granted.end());
    return {std::string(role->as_string()), granted};
  }

  static json::object body_of(const CoreRequest& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.in.body, ec);
    if (ec || !v.is_object()) throw HttpError(400, "invalid_json", "the body is not a JSON object");
    return std::move(v.as_object());
  }

  // The change's audit row, written only if the change was: bound to the membership's
  // `last_change` token (`removed`: bound to its absence).
  static Statement audit(const AuthContext& caller, const std::string& action,
                         const std::string& code, const std::string& subject,
                         const std::string& detail, const std::string& change, bool removed) {
    return {std::string("INSERT INTO audit_events (id, at, actor, action, organisation, subject,"
                        " detail) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE ") +
                (removed ? "NOT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id ="
                           " m.user_id WHERE m.organisation = ?5 AND u.username = ?6)"
                         : "EXISTS (SELECT 1 FROM memberships WHERE last_change = ?8)"),
            removed ? std::vector<SqlValue>{auth::random_token(16), unix_seconds(),
                                            caller.identity.subject, action, code, subject, detail}
                    : std::vector<SqlValue>{auth::random_token(16), unix_seconds(),
                                            caller.identity.subject, action, code, subject, detail,
                                            change}};
  }

  static void log_change(const AuthContext& caller, const std::string& action,
                         const std::string& code, const std::string& subject,
                         const std::string& detail) {
    log::info("audit", action,
              {{"actor", caller.identity.subject},
               {"organisation", code},
               {"member", subject},
               {"detail", detail}});
  }

  // POST /api/organisations/{code}/members {username, role, services}: an existing account
  // appointed (someone without one is invited: invite()).
  Task<Response> appoint(CoreRequest r) {
    const std::string code = co_await managed(r);
    const json::object body = body_of(r);
    const json::value* username = body.if_contains("username");
    if (!username || !username->is_string() || username->as_string().empty() ||
        username->as_string().size() > 100)
      throw HttpError(422, "invalid_field", "username: required");
    auto [role, services] = role_and_services(body);
    Statement who{"SELECT id FROM users WHERE username = ?1", {std::string(username->as_string())}};
    const QueryResult found = co_await store_.query(std::move(who));
    if (found.rows.empty()) throw HttpError(422, "invalid_field", "username: no such account");
    const std::int64_t user = integer(found.rows[0][0]);
    const AuthContext& caller = r.caller();
    const std::string change = auth::random_token(16);
    const std::string detail = role + " " + join(services);
    std::vector<Statement> writes{
        {"INSERT INTO memberships (user_id, organisation, role, services, appointed_by,"
         " appointed_at, last_change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
         " ON CONFLICT (user_id, organisation) DO NOTHING",
         {user, code, role, join(services), caller.identity.subject, unix_seconds(), change}},
        audit(caller, "member appointed", code, std::string(username->as_string()), detail, change,
              false)};
    const auto done = co_await store_.transaction(std::move(writes));
    if (done[0].changes != 1)
      throw HttpError(409, "conflict", "already a member of this organisation");
    log_change(caller, "member appointed", code, std::string(username->as_string()), detail);
    std::string name(username->as_string());  // named: no temporary in a co_await (g++ 12)
    co_return co_await member(code, std::move(name), 201);
  }

  Task<Response> member(std::string code, std::string username, int status = 200) {
    Statement one{
        "SELECT u.username, u.display_name, u.email, m.role, m.services, m.appointed_by,"
        " m.appointed_at FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.organisation = ?1 AND u.username = ?2",
        {code, username}};
    const QueryResult rows = co_await store_.query(std::move(one));
    if (rows.rows.empty()) throw HttpError(404, "not_found", "no such member");
    co_return Response::json(member_json(rows.rows[0]), status);
  }

  // The référents' rows locked first (an UPDATE that changes nothing): on PostgreSQL two
  // référents removing each other at once are served one after the other, and the last one
  // stays.
  static Statement lock_referents(const std::string& code) {
    return {"UPDATE memberships SET role = role WHERE organisation = ?1 AND role = 'referent'",
            {code}};
  }

  // PUT /api/organisations/{code}/members/{username} {role, services}.
  Task<Response> edit(CoreRequest r) {
    const std::string code = co_await managed(r);
    const std::string username = r.path_params.at("username");
    auto [role, services] = role_and_services(body_of(r));
    const AuthContext& caller = r.caller();
    const bool operator_ = caller.identity.has_role("operator");
    const std::string change = auth::random_token(16);
    const std::string detail = role + " " + join(services);
    std::vector<Statement> writes{
        lock_referents(code),
        // A demotion leaves at least one référent (an operator may leave none).
        {"UPDATE memberships SET role = ?3, services = ?4, last_change = ?6 WHERE organisation ="
         " ?1 AND user_id ="
         " (SELECT id FROM users WHERE username = ?2) AND (?3 = 'referent' OR role <> 'referent'"
         " OR ?5 = 1 OR (SELECT count(*) FROM memberships WHERE organisation = ?1 AND role ="
         " 'referent') > 1)",
         {code, username, role, join(services), std::int64_t{operator_ ? 1 : 0}, change}},
        audit(caller, "member changed", code, username, detail, change, false)};
    const auto done = co_await store_.transaction(std::move(writes));
    if (done[1].changes != 1) {
      co_await member(code, username);  // 404 when not a member
      throw HttpError(409, "last_referent", "an organisation keeps at least one référent");
    }
    log_change(caller, "member changed", code, username, detail);
    co_return co_await member(code, username);
  }

  // DELETE /api/organisations/{code}/members/{username}.
  Task<Response> remove(CoreRequest r) {
    const std::string code = co_await managed(r);
    const std::string username = r.path_params.at("username");
    const AuthContext& caller = r.caller();
    const bool operator_ = caller.identity.has_role("operator");
    co_await member(code, username);  // 404 when not a member
    std::vector<Statement> writes{
        lock_referents(code),
        {"DELETE FROM memberships WHERE organisation = ?1 AND user_id = (SELECT id FROM users"
         " WHERE username = ?2) AND (role <> 'referent' OR ?3 = 1 OR (SELECT count(*) FROM"
         " memberships WHERE organisation = ?1 AND role = 'referent') > 1)",
         {code, username, std::int64_t{operator_ ? 1 : 0}}},
        audit(caller, "member removed", code, username, "", "", true)};
    const auto done = co_await store_.transaction(std::move(writes));
    if (done[1].changes != 1)
      throw HttpError(409, "last_referent",
                      "the last référent of an organisation cannot be removed");
    log_change(caller, "member removed", code, username, "");
    Response gone;
    gone.status = 204;
    co_return gone;
  }

  // GET /api/me/organisations: the caller's memberships.
  Task<Response> mine(CoreRequest r) {
    Statement rows{
        "SELECT organisation, role, services FROM memberships WHERE user_id = ?1"
        " ORDER BY organisation",
        {r.caller().user_id}};
    const QueryResult found = co_await store_.query(std::move(rows));
    json::array items;
    for (const auto& row : found.rows) {
      json::object item;
      try {
        item = organisation(text(row[0]));
      } catch (const HttpError&) {
        item = {{"code", text(row[0])}, {"name", text(row[0])}, {"kind", "unknown"}};
      }
      json::array services;
      for (auto& s : split(text(row[2]))) services.emplace_back(s);
      item["role"] = text(row[1]);
      item["services"] = std::move(services);
      items.push_back(std::move(item));
    }
    co_return Response::json(json::object{{"organisations", std::move(items)}});
  }

 private:
  Store& store_;
  Accounts& accounts_;
  std::function<const Territories&()> territories_;
  std::function<std::vector<std::string>()> services_;
};

}  // namespace

std::vector<CoreRoute> organisation_routes(Store& store, Accounts& accounts,
                                           std::function<const Territories&()> territories,
                                           std::function<std::vector<std::string>()> services) {
  auto orgs =
      std::make_shared<Organisations>(store, accounts, std::move(territories), std::move(services));
  const std::vector<std::string> any{"*"};
  std::vector<CoreRoute> routes;
  routes.push_back({{.method = "GET", .path = "/api/organisations/{code}/members", .roles = any},
                    [orgs](CoreRequest r) { return orgs->list(std::move(r)); }});
  routes.push_back({{.method = "POST", .path = "/api/organisations/{code}/members", .roles = any},
                    [orgs](CoreRequest r) { return orgs->appoint(std::move(r)); }});
  routes.push_back(
      {{.method = "PUT", .path = "/api/organisations/{code}/members/{username}", .roles = any},
       [orgs](CoreRequest r) { return orgs->edit(std::move(r)); }});
  routes.push_back(
      {{.method = "DELETE", .path = "/api/organisations/{code}/members/{username}", .roles = any},
       [orgs](CoreRequest r) { return orgs->remove(std::move(r)); }});
  routes.push_back(
      {{.method = "POST", .path = "/api/organisations/{code}/invitations", .roles = any},
       [orgs](CoreRequest r) { return orgs->invite(std::move(r)); }});
  // Before any account exists: same-origin pages only, no session.
  routes.push_back({{.method = "POST",
                     .path = "/api/invitations/{token}/accept",
                     .csrf = Csrf::same_origin_only,
                     .authenticate = false},
                    [orgs](CoreRequest r) { return orgs->accept(std::move(r)); }});
  routes.push_back({{.method = "GET", .path = "/api/me/organisations", .roles = any},
                    [orgs](CoreRequest r) { return orgs->mine(std::move(r)); }});
  return routes;
}

}  // namespace passerelle
