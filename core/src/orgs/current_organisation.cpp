#include "orgs/current_organisation.hpp"

#include "passerelle/host.hpp"

#include <algorithm>

namespace passerelle {

std::vector<std::string> split_services(const std::string& stored) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < stored.size()) {
    const auto end = stored.find(' ', start);
    if (end != start) out.push_back(stored.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string join_services(const std::vector<std::string>& services) {
  std::string out;
  for (const auto& s : services) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::optional<Acting> choose_organisation(const std::vector<Membership>& mine,
                                          const std::string& chosen, const std::string& commune,
                                          bool commune_managed) {
  const auto find = [&mine](const std::string& code) {
    return std::find_if(mine.begin(), mine.end(),
                        [&code](const Membership& m) { return m.organisation == code; });
  };
  const auto acting = [](const Membership& m) {
    return Acting{m.organisation, m.role, m.services};
  };
  if (!chosen.empty()) {
    const auto it = find(chosen);
    if (it == mine.end()) return std::nullopt;
    return acting(*it);
  }
  if (!mine.empty()) {
    const auto it = commune.empty() ? mine.end() : find(commune);
    return acting(it != mine.end() ? *it : mine.front());
  }
  // Attached to no commune (a federated account the provider says nothing of, a removed member
  // of an intercommunality): nothing, until a référent or the bank makes them a member.
  Acting none{commune, "", {}};
  none.every_service = !commune.empty() && !commune_managed;
  return none;
}

Task<MembershipFacts> read_memberships(Database& store, std::int64_t user_id, std::string commune) {
  // One trip: the memberships, and a row with an empty code when the commune has members.
  Statement read{
      "SELECT organisation, role, services FROM memberships WHERE user_id = ?1"
      " UNION ALL SELECT '', '', '' WHERE EXISTS (SELECT 1 FROM memberships WHERE"
      " organisation = ?2) ORDER BY 1",
      {user_id, std::move(commune)}};
  const QueryResult rows = co_await store.query(std::move(read));
  MembershipFacts facts;
  for (const auto& row : rows.rows) {
    const auto text = [&row](std::size_t i) {
      return std::holds_alternative<std::string>(row[i]) ? std::get<std::string>(row[i])
                                                         : std::string();
    };
    if (text(0).empty()) {
      facts.commune_managed = true;
      continue;
    }
    facts.mine.push_back({text(0), text(1), split_services(text(2))});
  }
  co_return facts;
}

bool apply_organisation(const MembershipFacts& facts, const std::string& chosen,
                        Identity& identity) {
  auto acting =
      choose_organisation(facts.mine, chosen, identity.commune_insee, facts.commune_managed);
  if (!acting) return false;
  // A commune's code has 5 characters, an intercommunality's SIREN 9.
  if (!acting->role.empty())
    identity.commune_insee = acting->organisation.size() == 5 ? acting->organisation : "";
  identity.organisation = std::move(acting->organisation);
  identity.organisation_role = std::move(acting->role);
  identity.services = std::move(acting->services);
  identity.every_service = acting->every_service;
  return true;
}

}  // namespace passerelle
