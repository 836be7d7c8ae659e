#include "orgs/organisations.hpp"

#include "auth/accounts.hpp"
#include "auth/caller_cache.hpp"
#include "auth/crypto.hpp"
#include "http/json_body.hpp"
#include "log/log.hpp"
#include "mail/smtp_mailer.hpp"
#include "orgs/current_organisation.hpp"
#include "passerelle/host.hpp"
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

// The columns join_from_invitation() reads, in its order.
constexpr const char* kInvitationColumns =
    "SELECT organisation, email, account_role, role, services, invited_by FROM invitations";

// The callers a membership change concerns look their grants up again at their next request;
// everyone when the organisation gained its first member or lost its last (its other users
// then lose, or regain, every service).
Task<void> forget_member(Store& store, CallerCaches* caches, std::int64_t user, std::string code) {
  if (!caches) co_return;
  caches->forget_user(user);
  Statement count{"SELECT count(*) FROM memberships WHERE organisation = ?1", {std::move(code)}};
  const QueryResult n = co_await store.query(std::move(count));
  if (n.rows.empty() || integer(n.rows[0][0]) <= 1) {
    caches->sessions.forget_all();
    caches->tokens.forget_all();
  }
}

void log_change(const std::string& actor, const std::string& action, const std::string& code,
                const std::string& subject, const std::string& detail) {
  log::info("audit", action,
            {{"actor", actor}, {"organisation", code}, {"member", subject}, {"detail", detail}});
}

// Whether the one who made an invitation (a row of kInvitationColumns) still may: an enabled
// operator, or a référent of its organisation. An invitation outlives nobody's rights.
Task<bool> inviter_still_manages(Store& store, const std::vector<SqlValue>& inv) {
  const std::string& subject = text(inv[5]);
  if (subject.size() < 3 || subject.size() > 20 || subject.compare(0, 2, "u-") != 0 ||
      subject.find_first_not_of("0123456789", 2) != std::string::npos)
    co_return false;
  Statement who{
      "SELECT 1 FROM users u WHERE u.id = ?1 AND u.enabled = 1 AND (u.roles LIKE '%operator%'"
      " OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.organisation = ?2"
      " AND m.role = 'referent'))",
      {std::stoll(subject.substr(2)), text(inv[0])}};
  co_return !(co_await store.query(std::move(who))).rows.empty();
}

// The membership a used invitation (a row of kInvitationColumns) gives `user` (named `key` in
// the audit), with its audit row; nothing when already a member there.
Task<void> join_from_invitation(Store& store, CallerCaches* caches, std::int64_t user,
                                std::string key, const std::vector<SqlValue>& inv) {
  const std::string change = auth::random_token(16);
  const std::string detail = text(inv[3]) + " " + text(inv[4]);
  std::vector<Statement> writes{
      {"INSERT INTO memberships (user_id, organisation, role, services, appointed_by,"
       " appointed_at, last_change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
       " ON CONFLICT (user_id, organisation) DO NOTHING",
       {user, text(inv[0]), text(inv[3]), text(inv[4]), text(inv[5]), unix_seconds(), change}},
      {"INSERT INTO audit_events (id, at, actor, action, organisation, subject, detail)"
       " SELECT ?1, ?2, ?3, 'invitation accepted', ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM"
       " memberships WHERE last_change = ?7)",
       {auth::random_token(16), unix_seconds(), text(inv[5]), text(inv[0]), key, detail, change}}};
  const auto done = co_await store.transaction(std::move(writes));
  if (done[0].changes != 1) co_return;
  log_change(text(inv[5]), "invitation accepted", text(inv[0]), key, detail);
  co_await forget_member(store, caches, user, text(inv[0]));
}

class Organisations {
 public:
  explicit Organisations(OrganisationsDeps deps) : deps_(std::move(deps)), store_(deps_.store) {}

  static constexpr std::int64_t kInvitationSeconds = 7 * 24 * 3600;
  static constexpr std::int64_t kMaxPending = 100;

  // POST /api/organisations/{code}/invitations {email, account_role, role, services}: a
  // single-use link to the invited address, mailed through the relay; without a relay it is
  // answered to whoever invites, to pass on. The token is kept hashed.
  Task<Response> invite(CoreRequest r) {
    const std::string code = co_await managed(r);
    const json::object body = body_of(r);
    const json::value* email = body.if_contains("email");
    if (!email || !email->is_string() || email->as_string().size() > 200 ||
        !plain_mail_address(std::string(email->as_string())))
      throw HttpError(422, "invalid_field", "email: an address");
    const AuthContext& caller = r.caller();
    const bool operator_ = caller.identity.has_role("operator");
    const json::value* account_role = body.if_contains("account_role");
    const std::string kind = account_role && account_role->is_string()
                                 ? std::string(account_role->as_string())
                                 : "agent";
    if (kind != "elu" && kind != "agent")
      throw HttpError(422, "invalid_field", "account_role: elu or agent");
    // An élu's account is an élu's or the bank's to open.
    if (kind == "elu" && !operator_ && !caller.identity.has_role("elu"))
      throw HttpError(422, "invalid_field", "account_role: an élu is invited by an élu");
    auto [role, services] = role_and_services(body);
    Mailer* mailer = deps_.mailer ? deps_.mailer() : nullptr;
    const bool mailed = mailer && mailer->configured();
    // A link answered to whoever invites proves no address: the bank's alone to make.
    if (!mailed && !operator_)
      throw HttpError(409, "no_mail_relay",
                      "invitations are mailed, and this gateway has no mail relay: an operator "
                      "invites for you");
    const std::string address(email->as_string());
    const std::string token = auth::random_token(32);
    const std::string hash = auth::sha256_hex(token);
    const auto now = unix_seconds();
    // Expired a month ago: forgotten. Then at most kMaxPending waiting per organisation.
    Statement purge{"DELETE FROM invitations WHERE expires_at < ?1", {now - 30 * 86400}};
    co_await store_.query(std::move(purge));
    Statement pending{
        "SELECT count(*) FROM invitations WHERE organisation = ?1 AND used_at = 0 AND"
        " expires_at > ?2",
        {code, now}};
    const QueryResult waiting = co_await store_.query(std::move(pending));
    if (!waiting.rows.empty() && integer(waiting.rows[0][0]) >= kMaxPending)
      throw HttpError(429, "too_many_invitations",
                      "too many invitations wait for an answer in this organisation");
    Statement add{
        "INSERT INTO invitations (token_hash, organisation, email, account_role, role, services,"
        " invited_by, created_at, expires_at, used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
        " ?9, 0)",
        {hash, code, address, kind, role, join_services(services), caller.identity.subject, now,
         now + kInvitationSeconds}};
    co_await store_.query(std::move(add));
    json::object answer{
        {"id", hash.substr(0, 16)}, {"email", address}, {"expires_at", now + kInvitationSeconds}};
    if (mailed) {
      Mail mail =
          invitation_mail(caller, code, address, role, services, token, now + kInvitationSeconds);
      std::string failure;
      try {
        co_await mailer->send(std::move(mail));
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) {
        // Not sent: not made either (no link exists anywhere), to be tried again.
        Statement drop{"DELETE FROM invitations WHERE token_hash = ?1", {hash}};
        co_await store_.query(std::move(drop));
        log::warn("audit", "invitation not sent: the mail relay failed",
                  {{"organisation", code}, {"error", failure.substr(0, 300)}});
        throw HttpError(503, "mail_unavailable",
                        "the invitation could not be mailed; try again in a few minutes");
      }
      answer["mailed"] = true;
    } else {
      answer["mailed"] = false;
      answer["link"] = public_url() + "/invitation#" + token;
      answer["accept"] = "/api/invitations/" + token + "/accept";
    }
    const std::string action = mailed ? "member invited by mail" : "member invited by link";
    const std::string detail = role + " " + join_services(services);
    Statement trail{
        "INSERT INTO audit_events (id, at, actor, action, organisation, subject, detail) VALUES"
        " (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        {auth::random_token(16), now, caller.identity.subject, action, code, address, detail}};
    co_await store_.query(std::move(trail));
    log_change(caller, action, code, address, detail);
    co_return Response::json(answer, 201);
  }

  std::string public_url() const { return deps_.public_url ? deps_.public_url() : std::string(); }

  Mail invitation_mail(const AuthContext& caller, const std::string& code,
                       const std::string& address, const std::string& role,
                       const std::vector<std::string>& services, const std::string& token,
                       std::int64_t expires_at) const {
    const std::string name(organisation(code).at("name").as_string());
    std::string granted;
    for (const auto& s : services) granted += (granted.empty() ? "" : ", ") + s;
    // The inviter's name on one line: nothing they typed becomes lines of the bank's mail.
    std::string inviter = caller.identity.display_name.substr(0, 200);
    for (char& c : inviter)
      if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) c = ' ';
    std::string text =
        "Bonjour,\n\n" + inviter + " vous invite à rejoindre " + name +
        " sur Passerelle, en tant que " + (role == "referent" ? "référent" : "délégué") +
        (granted.empty() ? "" : " (services : " + granted + ")") +
        ".\n\nPour accepter, ouvrez ce lien avant le " + utc_timestamp(expires_at).substr(0, 10) +
        " (année-mois-jour ; il ne sert qu'une fois) :\n" + public_url() + "/invitation#" + token +
        "\n\nSi vous vous connectez avec ProConnect sous cette adresse, l'invitation est prise"
        " en compte à votre première connexion.\n\nSi vous n'attendiez pas cette invitation,"
        " ignorez ce message.\n\n-- \nPasserelle\n";
    return {address, "Invitation à rejoindre " + name + " sur Passerelle", std::move(text)};
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
    Statement read{std::string(kInvitationColumns) + " WHERE token_hash = ?1", {hash}};
    const QueryResult rows = co_await store_.query(std::move(read));
    const auto& inv = rows.rows.at(0);
    if (!co_await inviter_still_manages(store_, inv))  // and it stays used
      throw HttpError(
          410, "invitation_gone",
          "this invitation was withdrawn: its author no longer manages the organisation");
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
      user = co_await deps_.accounts.create(std::move(account));
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
    const std::string username = field("username");
    co_await join_from_invitation(store_, deps_.caches, user, username, inv);
    co_return Response::json(
        json::object{
            {"username", username}, {"organisation", text(inv[0])}, {"role", text(inv[3])}},
        201);
  }

  // The organisation of a code, named: a commune (5 characters) or an EPCI (9 digits). 404
  // otherwise, as for an organisation the caller may not see.
  json::object organisation(const std::string& code) const {
    const Territories& t = deps_.territories();
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

  static constexpr const char* kMemberColumns =
      "SELECT COALESCE(u.username, '~' || u.id), u.display_name, u.email, m.role, m.services,"
      " m.appointed_by, m.appointed_at FROM memberships m JOIN users u ON u.id = m.user_id";

  Task<Response> list(CoreRequest r) {
    const std::string code = co_await managed(r);
    json::object org = organisation(code);
    Statement members{std::string(kMemberColumns) +
                          " WHERE m.organisation = ?1 ORDER BY m.role DESC, u.display_name",
                      {code}};
    const QueryResult rows = co_await store_.query(std::move(members));
    json::array items;
    for (const auto& row : rows.rows) items.push_back(member_json(row));
    co_return Response::json(
        json::object{{"organisation", std::move(org)}, {"members", std::move(items)}});
  }

  static json::object member_json(const std::vector<SqlValue>& row) {
    json::array services;
    for (auto& s : split_services(text(row[4]))) services.emplace_back(s);
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
    const auto known = deps_.services();
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

  static json::object body_of(const CoreRequest& r) { return json_object_body(r.in.body); }

  // The change's audit row, written only if the change was: bound to the membership's
  // `last_change` token, which the change wrote.
  static Statement audit(const AuthContext& caller, const std::string& action,
                         const std::string& code, const std::string& subject,
                         const std::string& detail, const std::string& change) {
    return {
        "INSERT INTO audit_events (id, at, actor, action, organisation, subject, detail)"
        " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM memberships WHERE"
        " last_change = ?8)",
        {auth::random_token(16), unix_seconds(), caller.identity.subject, action, code, subject,
         detail, change}};
  }

  static void log_change(const AuthContext& caller, const std::string& action,
                         const std::string& code, const std::string& subject,
                         const std::string& detail) {
    passerelle::log_change(caller.identity.subject, action, code, subject, detail);
  }

  Task<void> forget(std::int64_t user, const std::string& code) {
    co_await forget_member(store_, deps_.caches, user, code);
  }

  // A member's key: their username, or "~<id>" for an account without one.
  struct Member {
    std::int64_t user = 0;
    std::string key;      // as the routes name it: "~<id>" written one way only
    std::string commune;  // the account's
    std::string roles;    // "elu,agent"
  };
  Task<Member> account_of(std::string key) {
    static constexpr const char* kColumns =
        "SELECT id, COALESCE(username, ''), COALESCE(commune_insee, ''), roles FROM users WHERE ";
    Statement who{std::string(kColumns) + "username = ?1", {key}};
    if (key.size() > 1 && key[0] == '~' &&
        key.find_first_not_of("0123456789", 1) == std::string::npos && key.size() < 19)
      who = {std::string(kColumns) + "id = ?1 AND username IS NULL", {std::stoll(key.substr(1))}};
    const QueryResult found = co_await store_.query(std::move(who));
    if (found.rows.empty()) co_return Member{};
    const auto& row = found.rows[0];
    const std::int64_t id = integer(row[0]);
    co_return Member{id, text(row[1]).empty() ? "~" + std::to_string(id) : text(row[1]),
                     text(row[2]), text(row[3])};
  }

  // Whether `caller` may make `who` a member of `code`. The bank's staff are members of no
  // organisation. A référent appoints the accounts of their own organisation only (a commune's,
  // or of a commune of the intercommunality); an operator anyone else.
  bool may_join(const AuthContext& caller, const Member& who, const std::string& code) const {
    if (!who.user) return false;
    const auto roles = parse_roles(who.roles);
    if (std::find(roles.begin(), roles.end(), "operator") != roles.end() ||
        std::find(roles.begin(), roles.end(), "advisor") != roles.end())
      return false;
    if (caller.identity.has_role("operator")) return true;
    if (who.commune == code) return true;
    const Commune* c = who.commune.empty() ? nullptr : deps_.territories().commune(who.commune);
    return c && code.size() == 9 && c->epci == code;
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
    std::string key(username->as_string());  // named: no temporary in a co_await (g++ 12)
    const Member who = co_await account_of(key);
    const AuthContext& caller = r.caller();
    // One answer for an account that does not exist and one that is not the caller's to appoint.
    if (!may_join(caller, who, code))
      throw HttpError(422, "invalid_field",
                      "username: no account of this organisation by that name (someone new is "
                      "invited)");
    const std::string change = auth::random_token(16);
    const std::string detail = role + " " + join_services(services);
    std::vector<Statement> writes{
        {"INSERT INTO memberships (user_id, organisation, role, services, appointed_by,"
         " appointed_at, last_change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
         " ON CONFLICT (user_id, organisation) DO NOTHING",
         {who.user, code, role, join_services(services), caller.identity.subject, unix_seconds(),
          change}},
        audit(caller, "member appointed", code, who.key, detail, change)};
    const auto done = co_await store_.transaction(std::move(writes));
    if (done[0].changes != 1)
      throw HttpError(409, "conflict", "already a member of this organisation");
    log_change(caller, "member appointed", code, who.key, detail);
    co_await forget(who.user, code);
    co_return co_await member(code, who.user, 201);
  }

  Task<Response> member(std::string code, std::int64_t user, int status = 200) {
    Statement one{std::string(kMemberColumns) + " WHERE m.organisation = ?1 AND m.user_id = ?2",
                  {code, user}};
    const QueryResult rows = co_await store_.query(std::move(one));
    if (rows.rows.empty()) throw HttpError(404, "not_found", "no such member");
    co_return Response::json(member_json(rows.rows[0]), status);
  }

  // The member of the path, in the organisation of the path (404 when not one).
  Task<Member> member_of(const CoreRequest& r, const std::string& code) {
    const Member who = co_await account_of(r.path_params.at("member"));
    if (who.user) {
      Statement is{"SELECT 1 FROM memberships WHERE organisation = ?1 AND user_id = ?2",
                   {code, who.user}};
      if (!(co_await store_.query(std::move(is))).rows.empty()) co_return who;
    }
    throw HttpError(404, "not_found", "no such member");
  }

  // The référents' rows locked first (an UPDATE that changes nothing): on PostgreSQL two
  // référents removing each other at once are served one after the other, and the last one
  // stays.
  static Statement lock_referents(const std::string& code) {
    return {"UPDATE memberships SET role = role WHERE organisation = ?1 AND role = 'referent'",
            {code}};
  }

  // PUT /api/organisations/{code}/members/{member} {role, services}.
  Task<Response> edit(CoreRequest r) {
    const std::string code = co_await managed(r);
    auto [role, services] = role_and_services(body_of(r));
    const Member who = co_await member_of(r, code);
    const AuthContext& caller = r.caller();
    const bool operator_ = caller.identity.has_role("operator");
    const std::string change = auth::random_token(16);
    const std::string detail = role + " " + join_services(services);
    std::vector<Statement> writes{
        lock_referents(code),
        // A demotion leaves at least one référent (an operator may leave none).
        {"UPDATE memberships SET role = ?3, services = ?4, last_change = ?6 WHERE organisation ="
         " ?1 AND user_id = ?2 AND (?3 = 'referent' OR role <> 'referent' OR ?5 = 1 OR"
         " (SELECT count(*) FROM memberships WHERE organisation = ?1 AND role = 'referent') > 1)",
         {code, who.user, role, join_services(services), std::int64_t{operator_ ? 1 : 0}, change}},
        audit(caller, "member changed", code, who.key, detail, change)};
    const auto done = co_await store_.transaction(std::move(writes));
    if (done[1].changes != 1) {
      co_await member(code, who.user);  // 404 when no longer a member
      throw HttpError(409, "last_referent", "an organisation keeps at least one référent");
    }
    log_change(caller, "member changed", code, who.key, detail);
    co_await forget(who.user, code);
    co_return co_await member(code, who.user);
  }

  // DELETE /api/organisations/{code}/members/{member}: the membership, and the member's
  // sessions that acted for this organisation (or chose none, and may have).
  Task<Response> remove(CoreRequest r) {
    const std::string code = co_await managed(r);
    const Member who = co_await member_of(r, code);
    const AuthContext& caller = r.caller();
    const bool operator_ = caller.identity.has_role("operator");
    const std::string change = auth::random_token(16);
    // Marked first (with the last-référent guard), so that the audit row is bound to this very
    // removal, then deleted by that mark.
    std::vector<Statement> writes{
        lock_referents(code),
        {"UPDATE memberships SET last_change = ?4 WHERE organisation = ?1 AND user_id = ?2 AND"
         " (role <> 'referent' OR ?3 = 1 OR (SELECT count(*) FROM memberships WHERE"
         " organisation = ?1 AND role = 'referent') > 1)",
         {code, who.user, std::int64_t{operator_ ? 1 : 0}, change}},
        audit(caller, "member removed", code, who.key, "", change),
        {"DELETE FROM memberships WHERE last_change = ?1", {change}},
        {"DELETE FROM sessions WHERE user_id = ?2 AND organisation IN (?1, '') AND NOT EXISTS"
         " (SELECT 1 FROM memberships WHERE organisation = ?1 AND user_id = ?2)",
         {code, who.user}}};
    const auto done = co_await store_.transaction(std::move(writes));
    if (done[1].changes != 1)
      throw HttpError(409, "last_referent",
                      "the last référent of an organisation cannot be removed");
    log_change(caller, "member removed", code, who.key, "");
    co_await forget(who.user, code);
    Response gone;
    gone.status = 204;
    co_return gone;
  }

  // POST /api/me/organisation {code}: the session acts for another of the caller's
  // organisations from its next request on; answers that organisation.
  Task<Response> switch_to(CoreRequest r) {
    const AuthContext& caller = r.caller();
    if (!caller.via_cookie)
      throw HttpError(400, "bad_request", "only a session acts for an organisation");
    const json::object body = body_of(r);
    const json::value* code = body.if_contains("code");
    if (!code || !code->is_string() || code->as_string().size() > 9)
      throw HttpError(422, "invalid_field", "code: one of your organisations");
    const std::string id_hash = auth::sha256_hex(caller.session_cookie);
    Statement set{
        "UPDATE sessions SET organisation = ?2 WHERE id_hash = ?1 AND user_id = ?3 AND EXISTS"
        " (SELECT 1 FROM memberships WHERE user_id = ?3 AND organisation = ?2)",
        {id_hash, std::string(code->as_string()), caller.user_id}};
    if ((co_await store_.query(std::move(set))).changes != 1)
      throw HttpError(404, "not_found", "not one of your organisations");
    if (deps_.caches) deps_.caches->sessions.erase(id_hash);
    Statement read{
        "SELECT organisation, role, services FROM memberships WHERE user_id = ?1 AND"
        " organisation = ?2",
        {caller.user_id, std::string(code->as_string())}};
    const QueryResult found = co_await store_.query(std::move(read));
    if (found.rows.empty()) throw HttpError(404, "not_found", "not one of your organisations");
    json::object item = organisation_item(found.rows[0]);
    item["current"] = true;
    co_return Response::json(item);
  }

  // GET /api/organisations/{code}/invitations: those waiting for an answer, each named by the
  // start of its token's hash (which opens nothing).
  Task<Response> pending(CoreRequest r) {
    const std::string code = co_await managed(r);
    Statement rows{
        "SELECT substr(token_hash, 1, 16), email, account_role, role, services, invited_by,"
        " created_at, expires_at FROM invitations WHERE organisation = ?1 AND used_at = 0 AND"
        " expires_at > ?2 ORDER BY created_at DESC",
        {code, unix_seconds()}};
    const QueryResult found = co_await store_.query(std::move(rows));
    json::array items;
    for (const auto& row : found.rows) {
      json::array services;
      for (auto& s : split_services(text(row[4]))) services.emplace_back(s);
      items.push_back(json::object{{"id", text(row[0])},
                                   {"email", text(row[1])},
                                   {"account_role", text(row[2])},
                                   {"role", text(row[3])},
                                   {"services", std::move(services)},
                                   {"invited_by", text(row[5])},
                                   {"created_at", integer(row[6])},
                                   {"expires_at", integer(row[7])}});
    }
    co_return Response::json(json::object{{"invitations", std::move(items)}});
  }

  // DELETE /api/organisations/{code}/invitations/{id}: withdrawn before it is used.
  Task<Response> withdraw(CoreRequest r) {
    const std::string code = co_await managed(r);
    const std::string id = r.path_params.at("id");
    if (id.size() != 16 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw HttpError(404, "not_found", "no such invitation");
    const AuthContext& caller = r.caller();
    const auto now = unix_seconds();
    std::vector<Statement> writes{
        {"SELECT email FROM invitations WHERE organisation = ?1 AND substr(token_hash, 1, 16) ="
         " ?2 AND used_at = 0",
         {code, id}},
        {"INSERT INTO audit_events (id, at, actor, action, organisation, subject, detail) SELECT"
         " ?3, ?4, ?5, 'invitation withdrawn', ?1, email, '' FROM invitations WHERE organisation"
         " = ?1 AND substr(token_hash, 1, 16) = ?2 AND used_at = 0",
         {code, id, auth::random_token(16), now, caller.identity.subject}},
        {"DELETE FROM invitations WHERE organisation = ?1 AND substr(token_hash, 1, 16) = ?2 AND"
         " used_at = 0",
         {code, id}}};
    const auto done = co_await store_.transaction(std::move(writes));
    if (done[2].changes == 0) throw HttpError(404, "not_found", "no such invitation");
    for (const auto& row : done[0].rows)
      log_change(caller, "invitation withdrawn", code, text(row[0]), "");
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
    const Identity& who = r.caller().identity;
    json::array items;
    for (const auto& row : found.rows) {
      json::object item = organisation_item(row);
      item["current"] = text(row[0]) == who.organisation;
      items.push_back(std::move(item));
    }
    co_return Response::json(json::object{{"organisations", std::move(items)}});
  }

  // A row (organisation, role, services) as the caller's pages show it.
  json::object organisation_item(const std::vector<SqlValue>& row) const {
    json::object item;
    try {
      item = organisation(text(row[0]));
    } catch (const HttpError&) {
      item = {{"code", text(row[0])}, {"name", text(row[0])}, {"kind", "unknown"}};
    }
    json::array services;
    for (auto& s : split_services(text(row[2]))) services.emplace_back(s);
    item["role"] = text(row[1]);
    item["services"] = std::move(services);
    return item;
  }

 private:
  OrganisationsDeps deps_;
  Store& store_;
};

}  // namespace

std::vector<CoreRoute> organisation_routes(OrganisationsDeps deps) {
  auto orgs = std::make_shared<Organisations>(std::move(deps));
  const std::vector<std::string> any{"*"};
  std::vector<CoreRoute> routes;
  routes.push_back({{.method = "GET", .path = "/api/organisations/{code}/members", .roles = any},
                    [orgs](CoreRequest r) { return orgs->list(std::move(r)); }});
  routes.push_back({{.method = "POST", .path = "/api/organisations/{code}/members", .roles = any},
                    [orgs](CoreRequest r) { return orgs->appoint(std::move(r)); }});
  routes.push_back(
      {{.method = "PUT", .path = "/api/organisations/{code}/members/{member}", .roles = any},
       [orgs](CoreRequest r) { return orgs->edit(std::move(r)); }});
  routes.push_back(
      {{.method = "DELETE", .path = "/api/organisations/{code}/members/{member}", .roles = any},
       [orgs](CoreRequest r) { return orgs->remove(std::move(r)); }});
  routes.push_back(
      {{.method = "GET", .path = "/api/organisations/{code}/invitations", .roles = any},
       [orgs](CoreRequest r) { return orgs->pending(std::move(r)); }});
  routes.push_back(
      {{.method = "DELETE", .path = "/api/organisations/{code}/invitations/{id}", .roles = any},
       [orgs](CoreRequest r) { return orgs->withdraw(std::move(r)); }});
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
  routes.push_back({{.method = "POST", .path = "/api/me/organisation", .roles = any},
                    [orgs](CoreRequest r) { return orgs->switch_to(std::move(r)); }});
  return routes;
}

Task<std::string> take_invitation_by_email(Store& store, CallerCaches* caches,
                                           const Account& account, std::string email) {
  if (email.empty()) co_return std::string();
  const auto now = unix_seconds();
  // The newest invitation waiting for this address, claimed as accept() claims one.
  Statement waiting{
      "SELECT token_hash FROM invitations WHERE lower(email) = lower(?1) AND used_at = 0 AND"
      " expires_at > ?2 ORDER BY created_at DESC LIMIT 1",
      {std::move(email), now}};
  const QueryResult found = co_await store.query(std::move(waiting));
  if (found.rows.empty()) co_return std::string();
  const std::string hash = text(found.rows[0][0]);
  Statement read{std::string(kInvitationColumns) + " WHERE token_hash = ?1", {hash}};
  const QueryResult rows = co_await store.query(std::move(read));
  if (rows.rows.empty()) co_return std::string();
  const auto& inv = rows.rows[0];
  if (!co_await inviter_still_manages(store, inv)) co_return std::string();
  Statement claim{"UPDATE invitations SET used_at = ?2 WHERE token_hash = ?1 AND used_at = 0",
                  {hash, now}};
  if ((co_await store.query(std::move(claim))).changes != 1) co_return std::string();
  const std::string key =
      account.username.empty() ? "~" + std::to_string(account.id) : account.username;
  co_await join_from_invitation(store, caches, account.id, key, inv);
  co_return text(inv[0]);
}

}  // namespace passerelle
