#include "financing.hpp"

namespace passerelle::plugins::offers {

std::string_view name_of(Status s) {
  switch (s) {
    case Status::draft:
      return "draft";
    case Status::submitted:
      return "submitted";
    case Status::under_review:
      return "under_review";
    case Status::decided:
      return "decided";
    case Status::contract_signed:
      return "contract_signed";
  }
  return "draft";
}

std::optional<Status> status_named(std::string_view n) {
  for (Status s : {Status::draft, Status::submitted, Status::under_review, Status::decided,
                   Status::contract_signed})
    if (name_of(s) == n) return s;
  return std::nullopt;
}

std::optional<Move> move_named(std::string_view n) {
  if (n == "submit") return Move::submit;
  if (n == "review") return Move::review;
  if (n == "decide") return Move::decide;
  if (n == "sign") return Move::sign;
  return std::nullopt;
}

Side side_of(Move m) { return m == Move::submit ? Side::requester : Side::bank; }

std::optional<Status> after(Status from, Move m, bool granted) {
  if (m == Move::submit && from == Status::draft) return Status::submitted;
  if (m == Move::review && from == Status::submitted) return Status::under_review;
  if (m == Move::decide && from == Status::under_review) return Status::decided;
  if (m == Move::sign && from == Status::decided && granted) return Status::contract_signed;
  return std::nullopt;
}

}  // namespace passerelle::plugins::offers
