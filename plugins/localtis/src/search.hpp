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

/// The terms of a query, each to be matched as a prefix ("éco" finds "écologie"); at most 8.
std::vector<std::string> query_terms(std::string_view query);

}  // namespace passerelle::plugins::localtis
