// French words made search terms, for every plugin that searches French text (localtis'
// articles, conseils' knowledge base): lower case, Snowball's French stemmer (libstemmer),
// accents taken off after stemming. Texts and queries go through the same function, in C++, so
// that SQLite's FTS5 and PostgreSQL's text search see the same terms ("financements", "financer"
// and "financement" all become "financ"; "écologie" and "ecologie", "ecolog").
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sb_stemmer;

namespace passerelle::plugins::french {

/// Makes the terms of many texts in a row (a feed's articles): one stemmer, and the terms of
/// the words already seen (a bounded memo: news repeats its words, and stemming is the costly
/// part). One thread at a time.
class TermMaker {
 public:
  TermMaker();
  ~TermMaker();
  TermMaker(const TermMaker&) = delete;
  TermMaker& operator=(const TermMaker&) = delete;

  /// The terms of `text`, in order, space separated (at most `max_terms` words).
  std::string terms(std::string_view text, std::size_t max_terms = 5000);

  /// The term of one lower-case word as typed, stemmed then without accents ("" for a
  /// stopword or a word with no letter left): what a query looks for.
  std::string term_of(const std::string& lower);

  /// What a word of an article is indexed under: its term, and when it is written with
  /// accents, the term of its form without them too (space separated).
  const std::string& indexed_of(const std::string& lower);

 private:
  struct StemmerFree {
    void operator()(sb_stemmer* s) const;
  };
  std::unique_ptr<sb_stemmer, StemmerFree> stemmer_;
  std::unordered_map<std::string, std::string> seen_;
};

/// The terms of `text`, in order, space separated (at most `max_terms` words).
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

}  // namespace passerelle::plugins::french
