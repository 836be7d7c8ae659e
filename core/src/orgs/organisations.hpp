// Delegated administration, first part: the members of an organisation (a commune by its INSEE
// code, an intercommunality by its SIREN), each a `referent` or a `delegue` with the services
// (plugins) they may use there. Operators appoint anyone anywhere (the first référent); a
// référent manages the members of their own organisation only (any other: 404); the last
// référent cannot be removed or demoted but by an operator. Every change is audit-logged, in
// the log and in the store's `audit_events`, in the change's transaction.
#pragma once

#include "http/route_spec.hpp"
#include "passerelle/territories.hpp"

#include <functional>
#include <string>
#include <vector>

namespace passerelle {

class Store;
class Accounts;

/// The routes under /api/organisations, /api/invitations and GET /api/me/organisations.
/// `services()`: the names of the plugins a membership may grant; `accounts`: where an accepted
/// invitation creates its account.
std::vector<CoreRoute> organisation_routes(Store& store, Accounts& accounts,
                                           std::function<const Territories&()> territories,
                                           std::function<std::vector<std::string>()> services);

}  // namespace passerelle
