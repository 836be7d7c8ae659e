// The life of an advice request: its statuses, who may move it from one to another, and what
// the move needs. Pure functions: the plugin checks with them before it writes anything.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace passerelle::plugins::conseils {

/// submitted -> assigned -> answered -> closed, plus reopened (after an answer or a close)
/// and withdrawn (by the requester, before an answer).
enum class Status { submitted, assigned, answered, closed, reopened, withdrawn };

std::string_view name_of(Status s);
std::optional<Status> status_named(std::string_view name);

/// What a request's caller is to it.
enum class Party { requester, advisor };

/// The moves, each a route: POST /api/conseils/requests/{id}/{action}.
enum class Action { assign, answer, close, reopen, withdraw };

std::optional<Action> action_named(std::string_view name);

/// Where `action` takes a request in status `from`; nullopt when the move is not allowed
/// from there (the plugin answers 409, naming both).
std::optional<Status> move(Status from, Action action);

/// Whether `party` may take `action`: advisors assign and answer, requesters withdraw and
/// reopen, both close an answered request.
bool allowed(Action action, Party party);

/// True for statuses still waiting on the bank (due dates are watched).
bool open(Status s);

}  // namespace passerelle::plugins::conseils
