#include "workflow.hpp"

#include <array>
#include <utility>

namespace passerelle::plugins::conseils {

namespace {

constexpr std::array<std::pair<Status, std::string_view>, 6> kNames{{
    {Status::submitted, "submitted"},
    {Status::assigned, "assigned"},
    {Status::answered, "answered"},
    {Status::closed, "closed"},
    {Status::reopened, "reopened"},
    {Status::withdrawn, "withdrawn"},
}};

constexpr std::array<std::pair<Action, std::string_view>, 5> kActions{{
    {Action::assign, "assign"},
    {Action::answer, "answer"},
    {Action::close, "close"},
    {Action::reopen, "reopen"},
    {Action::withdraw, "withdraw"},
}};

}  // namespace

std::string_view name_of(Status s) {
  for (const auto& [status, name] : kNames)
    if (status == s) return name;
  return "submitted";
}

std::optional<Status> status_named(std::string_view name) {
  for (const auto& [status, n] : kNames)
    if (n == name) return status;
  return std::nullopt;
}

std::optional<Action> action_named(std::string_view name) {
  for (const auto& [action, n] : kActions)
    if (n == name) return action;
  return std::nullopt;
}

std::optional<Status> move(Status from, Action action) {
  switch (action) {
    case Action::assign:  // taken, or handed to another advisor, until it is answered
      if (from == Status::submitted || from == Status::assigned || from == Status::reopened)
        return Status::assigned;
      return std::nullopt;
    case Action::answer:
      if (from == Status::assigned) return Status::answered;
      return std::nullopt;
    case Action::close:
      if (from == Status::answered) return Status::closed;
      return std::nullopt;
    case Action::reopen:  // the answer does not settle it
      if (from == Status::answered || from == Status::closed) return Status::reopened;
      return std::nullopt;
    case Action::withdraw:  // no longer needed, before an answer
      if (from == Status::submitted || from == Status::assigned || from == Status::reopened)
        return Status::withdrawn;
      return std::nullopt;
  }
  return std::nullopt;
}

bool allowed(Action action, Party party) {
  switch (action) {
    case Action::assign:
    case Action::answer:
      return party == Party::advisor;
    case Action::reopen:
    case Action::withdraw:
      return party == Party::requester;
    case Action::close:
      return true;
  }
  return false;
}

bool open(Status s) {
  return s == Status::submitted || s == Status::assigned || s == Status::reopened;
}

}  // namespace passerelle::plugins::conseils
