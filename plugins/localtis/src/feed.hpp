// A news feed read with libxml2: RSS 2.0, Atom 1.0 and RSS 1.0 (RDF), in whatever encoding the
// document or the HTTP header declares. No entity is expanded and nothing outside the document
// is read: a feed that declares entities (a DTD with <!ENTITY>) is refused whole, so neither
// "billion laughs" nor an external entity can reach anything.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace passerelle::plugins::localtis {

/// A feed refused: what() says why, in one line, for the operators' view of the feed.
class FeedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One entry as the feed gives it (text as UTF-8; HTML not yet sanitised).
struct FeedItem {
  std::string guid;   ///< guid / id / rdf:about; may be empty (then the link identifies it)
  std::string link;   ///< the article's address
  std::string title;  ///< plain text, or HTML when title_is_html (Atom type="html")
  bool title_is_html = false;
  std::string summary;  ///< description / summary (HTML or text, see summary_is_html)
  std::string content;  ///< content:encoded / content (HTML), may be empty
  bool summary_is_html = true;
  bool content_is_html = true;
  std::string author;                   ///< dc:creator / author name
  std::vector<std::string> categories;  ///< category / dc:subject / category@term
  std::string date;                     ///< the date as written (pubDate, updated, dc:date)
  std::string enclosure;                ///< the first enclosure's URL, if any
};

struct Feed {
  std::string format;  ///< "rss2", "atom" or "rdf"
  std::string title;
  std::string link;
  std::vector<FeedItem> items;
};

/// Limits on what one feed may hold.
inline constexpr std::size_t kMaxItemsPerFeed = 1000;

/// Reads `bytes`. `http_charset`: the charset of the HTTP Content-Type, which wins over the XML
/// prolog's (RFC 7303); empty: the prolog's, else UTF-8. Throws FeedError.
Feed parse_feed(std::string_view bytes, std::string_view http_charset = {});

}  // namespace passerelle::plugins::localtis
