// The statuses of a financing request and the moves between them: who may make each, and
// where it leads. Plain functions, shared by the routes and the tests.
#pragma once

#include <optional>
#include <string_view>

namespace passerelle::plugins::offers {

enum class Status { draft, submitted, under_review, decided, contract_signed };
enum class Move { submit, review, decide, sign };
/// Who makes a move: the commune's élu or agent, or the bank's advisor (the directorate).
enum class Side { requester, bank };

std::string_view name_of(Status s);
std::optional<Status> status_named(std::string_view name);
std::optional<Move> move_named(std::string_view name);
Side side_of(Move m);
/// Where `m` leads from `from`, or nothing when it is not allowed there. `granted`: the
/// decision, for a signature (only a granted request is signed).
std::optional<Status> after(Status from, Move m, bool granted);

}  // namespace passerelle::plugins::offers
