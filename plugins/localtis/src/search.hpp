// French words made search terms: lower case, Snowball's French stemmer (libstemmer), accents
// taken off after stemming. Articles and queries go through the same function, in C++, so that
// SQLite's FTS5 and PostgreSQL's text search see the same terms ("financements", "financer"
// and "financement" all become "financ"; "écologie" and "ecologie", "ecolog").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace passerelle::plugins::localtis {

/// The terms of `text`, in order, space separated (at most `max_terms`).
std::string search_terms(std::string_view text, std::size_t max_terms = 5000);

/// One term of a query: a whole word's stem matches that stem ("financement" finds
/// "financements" and "financer", all "financ"); a short word, under five letters, is taken as
/// the start of one and matches as a prefix ("éco" finds "écologie").
struct QueryTerm {
  std::string term;
  bool prefix = false;
};

/// The terms of a query (three letters or more, stopwords left out); at most 8.
std::vector<QueryTerm> query_terms(std::string_view query);

}  // namespace passerelle::plugins::localtis
