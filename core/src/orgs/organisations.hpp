// Delegated administration: the members of an organisation (a commune by its INSEE code, an
// intercommunality by its SIREN), each a `referent` or a `delegue` with the services (plugins)
// they may use there. Operators appoint anyone anywhere (the first référent); a référent
// manages the members of their own organisation only (any other: 404); the last référent
// cannot be removed or demoted but by an operator. Every change is audit-logged, in the log and
// in the store's `audit_events`, in the change's transaction, and the callers it concerns are
// looked up again at their next request (orgs/current_organisation.hpp: what they may use).
// A member is named by their username, or "~<id>" for an account without one (federated).
#pragma once

#include "http/route_spec.hpp"
#include "passerelle/territories.hpp"

#include <functional>
#include <string>
#include <vector>

namespace passerelle {

class Store;
class Accounts;
struct Account;
struct CallerCaches;
class Mailer;

/// What the organisations' routes use.
struct OrganisationsDeps {
  Store& store;
  Accounts& accounts;  // where an accepted invitation creates its account
  /// Forget the callers a change concerns (their grants); null: nothing kept (tests).
  CallerCaches* caches = nullptr;
  std::function<const Territories&()> territories;
  /// The names of the plugins a membership may grant.
  std::function<std::vector<std::string>()> services;
  /// The relay invitations are mailed through; null or unconfigured: the link is answered to
  /// whoever invites, to pass on.
  std::function<Mailer*()> mailer = {};
  /// https://host[:port] of the gateway, for the link of a mailed invitation.
  std::function<std::string()> public_url = {};
};

/// The routes under /api/organisations, /api/invitations, GET /api/me/organisations and POST
/// /api/me/organisation (the organisation the session acts for).
std::vector<CoreRoute> organisation_routes(OrganisationsDeps deps);

/// A federated login whose provider vouches for `email` takes the invitation waiting for that
/// address, if any (the newest): its membership goes to `account`, and the invitation is used.
/// Returns the organisation joined, or "".
Task<std::string> take_invitation_by_email(Store& store, CallerCaches* caches,
                                           const Account& account, std::string email);

}  // namespace passerelle
