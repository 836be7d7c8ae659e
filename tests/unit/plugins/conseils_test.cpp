// The pure parts of conseils: the workflow's moves and who may make them, and what
// anonymisation takes out of a published answer.
#include "anonymise.hpp"
#include "workflow.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle::plugins::conseils;

BOOST_AUTO_TEST_SUITE(conseils_workflow)

BOOST_AUTO_TEST_CASE(every_move_from_every_status) {
  // The whole table: from each status, where each action leads (or nowhere).
  const struct {
    Status from;
    Action action;
    std::optional<Status> to;
  } table[] = {
      {Status::submitted, Action::assign, Status::assigned},
      {Status::submitted, Action::answer, std::nullopt},
      {Status::submitted, Action::close, std::nullopt},
      {Status::submitted, Action::reopen, std::nullopt},
      {Status::submitted, Action::withdraw, Status::withdrawn},
      {Status::assigned, Action::assign, Status::assigned},
      {Status::assigned, Action::answer, Status::answered},
      {Status::assigned, Action::close, std::nullopt},
      {Status::assigned, Action::withdraw, Status::withdrawn},
      {Status::answered, Action::assign, std::nullopt},
      {Status::answered, Action::close, Status::closed},
      {Status::answered, Action::reopen, Status::reopened},
      {Status::answered, Action::withdraw, std::nullopt},
      {Status::closed, Action::reopen, Status::reopened},
      {Status::closed, Action::close, std::nullopt},
      {Status::closed, Action::assign, std::nullopt},
      {Status::reopened, Action::assign, Status::assigned},
      {Status::reopened, Action::answer, std::nullopt},
      {Status::withdrawn, Action::assign, std::nullopt},
      {Status::withdrawn, Action::reopen, std::nullopt},
  };
  for (const auto& row : table)
    BOOST_TEST((move(row.from, row.action) == row.to),
               name_of(row.from) << " + action " << static_cast<int>(row.action));
  BOOST_TEST(allowed(Action::answer, Party::advisor));
  BOOST_TEST(!allowed(Action::answer, Party::requester));
  BOOST_TEST(!allowed(Action::withdraw, Party::advisor));
  BOOST_TEST(allowed(Action::close, Party::requester));
  BOOST_TEST(allowed(Action::close, Party::advisor));
  BOOST_TEST(!status_named("lost").has_value());
  BOOST_TEST(name_of(*status_named("reopened")) == "reopened");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(conseils_anonymise)

BOOST_AUTO_TEST_CASE(names_addresses_numbers_and_codes_go) {
  Known known;
  known.communes = {"Tuffalun"};
  known.people = {"Jeanne Martin-Leroy", "jeanne.martin@tuffalun.fr"};
  known.codes = {"49003", "49700"};
  const std::string text =
      "Bonjour, je suis Jeanne Martin-Leroy, secrétaire de mairie à Tuffalun (49700, INSEE "
      "49003). Écrivez à jeanne.martin@tuffalun.fr ou à mairie@tuffalun.fr, ou appelez le "
      "02 41 12 34 56, le 02.41.12.34.57, le +33 6 12 34 56 78 ou le 0033 (0)6 12 34 56 79. "
      "MARTIN-LEROY a signé. La délibération du 12 mars 2025 porte sur 1 500 000 euros.";
  const std::string out = anonymise(text, known);
  for (const char* gone : {"Jeanne", "Martin", "Tuffalun", "tuffalun", "49700", "49003", "@",
                           "41 12", "41.12", "6 12 34", "MARTIN"})
    BOOST_TEST(out.find(gone) == std::string::npos, gone << " in: " << out);
  for (const char* kept : {"[nom]", "[commune]", "[adresse]", "[téléphone]", "[code]",
                           "12 mars 2025", "1 500 000 euros", "délibération", "secrétaire"})
    BOOST_TEST(out.find(kept) != std::string::npos, kept << " not in: " << out);
}

BOOST_AUTO_TEST_CASE(words_inside_other_words_stay) {
  Known known;
  known.communes = {"Vue"};
  known.people = {"Anne Roy"};
  const std::string out =
      anonymise("Une revue de la voirie à Vue, avec Anne ; Royan reste.", known);
  BOOST_TEST(out == "Une revue de la voirie à [commune], avec [nom] ; Royan reste.");
}

BOOST_AUTO_TEST_SUITE_END()
