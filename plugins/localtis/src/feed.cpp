#include "feed.hpp"

#include "sanitize.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>

namespace passerelle::plugins::localtis {

namespace {

constexpr const char* kAtom = "http://www.w3.org/2005/Atom";
constexpr const char* kRdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
constexpr const char* kRss1 = "http://purl.org/rss/1.0/";
constexpr const char* kDc = "http://purl.org/dc/elements/1.1/";
constexpr const char* kContent = "http://purl.org/rss/1.0/modules/content/";

// A feed larger than this was cut by the fetcher already; the parser refuses more all the same.
constexpr std::size_t kMaxBytes = 16 * 1024 * 1024;

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

const char* as_chars(const xmlChar* s) { return reinterpret_cast<const char*>(s); }

bool named(const xmlNode* n, const char* name, const char* ns = nullptr) {
  if (!n || n->type != XML_ELEMENT_NODE || std::strcmp(as_chars(n->name), name) != 0) return false;
  if (!ns) return true;
  return n->ns && n->ns->href && std::strcmp(as_chars(n->ns->href), ns) == 0;
}

bool no_namespace(const xmlNode* n) { return !n->ns || !n->ns->href; }

// The text of an element (its text and CDATA children, entity references left out: none is
// expanded), trimmed.
std::string text_of(const xmlNode* n) {
  std::string out;
  for (const xmlNode* c = n->children; c; c = c->next)
    if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
      out += as_chars(c->content);
  const auto first = out.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(" \t\r\n") - first + 1);
}

std::string attribute(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name));
  if (!v) return {};
  std::string out = as_chars(v);
  xmlFree(v);
  return out;
}

// Atom's xhtml content: the markup of the div's children, as HTML text.
std::string inner_markup(const xmlNode* n) {
  std::string out;
  xmlBufferPtr buffer = xmlBufferCreate();
  for (const xmlNode* c = n->children; c; c = c->next) {
    const xmlNode* from = c;
    if (named(c, "div")) {
      for (const xmlNode* d = c->children; d; d = d->next) {
        xmlBufferEmpty(buffer);
        xmlNodeDump(buffer, n->doc, const_cast<xmlNode*>(d), 0, 0);
        out += as_chars(xmlBufferContent(buffer));
      }
      continue;
    }
    xmlBufferEmpty(buffer);
    xmlNodeDump(buffer, n->doc, const_cast<xmlNode*>(from), 0, 0);
    out += as_chars(xmlBufferContent(buffer));
  }
  xmlBufferFree(buffer);
  return out;
}

// Atom's text constructs: type text, html or xhtml.
void atom_text(const xmlNode* n, std::string& out, bool& is_html) {
  const std::string type = attribute(n, "type");
  if (type == "xhtml") {
    out = inner_markup(n);
    is_html = true;
  } else {
    out = text_of(n);
    is_html = type == "html";
  }
}

FeedItem rss_item(const xmlNode* item) {
  FeedItem f;
  for (const xmlNode* c = item->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (named(c, "title") && no_namespace(c))
      f.title = text_of(c);
    else if (named(c, "link") && no_namespace(c))
      f.link = text_of(c);
    else if (named(c, "guid"))
      f.guid = text_of(c);
    else if (named(c, "description") && no_namespace(c))
      f.summary = text_of(c);
    else if (named(c, "encoded", kContent))
      f.content = text_of(c);
    else if (named(c, "creator", kDc) || (named(c, "author") && no_namespace(c)))
      f.author = text_of(c);
    else if (named(c, "category") || named(c, "subject", kDc))
      f.categories.push_back(text_of(c));
    else if (named(c, "pubDate") || (named(c, "date", kDc) && f.date.empty()))
      f.date = text_of(c);
    else if (named(c, "enclosure") && f.enclosure.empty())
      f.enclosure = attribute(c, "url");
  }
  return f;
}

FeedItem rdf_item(const xmlNode* item) {
  FeedItem f = rss_item(item);  // RSS 1.0's elements are RSS 2.0's, in its namespace, plus dc
  for (const xmlNode* c = item->children; c; c = c->next) {
    if (named(c, "title", kRss1))
      f.title = text_of(c);
    else if (named(c, "link", kRss1))
      f.link = text_of(c);
    else if (named(c, "description", kRss1))
      f.summary = text_of(c);
  }
  xmlChar* about = xmlGetNsProp(item, reinterpret_cast<const xmlChar*>("about"),
                                reinterpret_cast<const xmlChar*>(kRdf));
  if (about) {
    f.guid = as_chars(about);
    xmlFree(about);
  }
  return f;
}

FeedItem atom_entry(const xmlNode* entry) {
  FeedItem f;
  std::string published;
  for (const xmlNode* c = entry->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (!c->ns || !c->ns->href || std::strcmp(as_chars(c->ns->href), kAtom) != 0) {
      if (named(c, "creator", kDc)) f.author = text_of(c);
      continue;
    }
    const std::string name = as_chars(c->name);
    if (name == "title") {
      atom_text(c, f.title, f.title_is_html);
    } else if (name == "id") {
      f.guid = text_of(c);
    } else if (name == "link") {
      const std::string rel = attribute(c, "rel");
      if ((rel.empty() || rel == "alternate") && f.link.empty()) f.link = attribute(c, "href");
      if (rel == "enclosure" && f.enclosure.empty()) f.enclosure = attribute(c, "href");
    } else if (name == "summary") {
      atom_text(c, f.summary, f.summary_is_html);
    } else if (name == "content") {
      atom_text(c, f.content, f.content_is_html);
    } else if (name == "author") {
      for (const xmlNode* a = c->children; a; a = a->next)
        if (named(a, "name", kAtom)) f.author = text_of(a);
    } else if (name == "category") {
      f.categories.push_back(attribute(c, "label").empty() ? attribute(c, "term")
                                                           : attribute(c, "label"));
    } else if (name == "published") {
      published = text_of(c);
    } else if (name == "updated" && f.date.empty()) {
      f.date = text_of(c);
    }
  }
  if (!published.empty()) f.date = published;
  return f;
}

// Silences libxml2's default error printing (to stderr) for the parse; the last error is read
// from the context.
void ignore_errors(void*, const char*, ...) {}

// The encodings read: UTF-8 and the single-byte ASCII supersets French feeds use. Others
// (UTF-16, UTF-7, EBCDIC…) would hide the markup from markup_refusal's scan of the bytes.
bool readable_encoding(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* kNames[] = {"utf-8", "utf8", "us-ascii", "ascii", "latin1", "latin-1"};
  for (const char* n : kNames)
    if (name == n) return true;
  const auto numbered = [&name](std::string_view prefix, int low, int high) {
    if (name.rfind(prefix, 0) != 0) return false;
    const std::string number = name.substr(prefix.size());
    if (number.empty() || number.size() > 4 ||
        number.find_first_not_of("0123456789") != std::string::npos)
      return false;
    const int n = std::stoi(number);
    return n >= low && n <= high;
  };
  return numbered("iso-8859-", 1, 16) || numbered("iso8859-", 1, 16) ||
         numbered("windows-", 1250, 1258) || numbered("cp", 1250, 1258);
}

void check_encoding(std::string_view bytes, std::string_view http_charset) {
  const std::string refused = " is not read (UTF-8, ISO-8859-n and windows-125n are)";
  if (!http_charset.empty() && !readable_encoding(std::string(http_charset)))
    throw FeedError("charset " + std::string(http_charset.substr(0, 40)) + refused);
  std::string_view doc = bytes;
  if (doc.rfind("\xEF\xBB\xBF", 0) == 0) doc.remove_prefix(3);  // UTF-8's byte order mark
  const auto first = doc.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || doc[first] != '<')
    throw FeedError("the document does not start with '<': UTF-16, UTF-32 and EBCDIC" + refused);
  doc.remove_prefix(first);
  if (doc.rfind("<?xml", 0) != 0) return;
  const std::string_view prolog = doc.substr(0, doc.find("?>"));
  const auto at = prolog.find("encoding");
  if (at == std::string_view::npos) return;
  const auto open = prolog.find_first_of("\"'", at);
  if (open == std::string_view::npos) return;
  const auto close = prolog.find(prolog[open], open + 1);
  if (close == std::string_view::npos) return;
  const std::string declared(prolog.substr(open + 1, close - open - 1));
  if (!readable_encoding(declared)) throw FeedError("encoding " + declared.substr(0, 40) + refused);
}

}  // namespace

Feed parse_feed(std::string_view bytes, std::string_view http_charset) {
  if (bytes.size() > kMaxBytes) throw FeedError("feed larger than 16 MiB");
  if (bytes.empty()) throw FeedError("empty feed");
  check_encoding(bytes, http_charset);
  if (const std::string refusal = markup_refusal(bytes, Markup::xml); !refusal.empty())
    throw FeedError(refusal + ": refused");
  static std::once_flag initialised;  // libxml2 wants this once, before threads use it
  std::call_once(initialised, [] {
    xmlInitParser();
    xmlSetGenericErrorFunc(nullptr, ignore_errors);
  });
  // No XML_PARSE_NOENT (entities are not substituted), no DTD loaded or validated, no network;
  // XML_PARSE_HUGE is not set, so libxml2's own limits on depth and text sizes hold.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  const std::string charset(http_charset);
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) throw FeedError("out of memory");
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlCtxtReadMemory(ctxt, bytes.data(), static_cast<int>(bytes.size()), nullptr,
                        charset.empty() ? nullptr : charset.c_str(), options));
  std::string problem;
  if (!doc) {
    const xmlError* e = xmlCtxtGetLastError(ctxt);
    problem = e && e->message ? std::string(e->message) : "not well-formed XML";
    while (!problem.empty() && (problem.back() == '\n' || problem.back() == ' '))
      problem.pop_back();
    if (e) problem = "line " + std::to_string(e->line) + ": " + problem;
  }
  xmlFreeParserCtxt(ctxt);
  if (!doc) throw FeedError("not a feed: " + problem);
  // Entities of any kind: refused (nothing a news feed needs, everything an attack uses).
  if (doc->intSubset && (doc->intSubset->entities || doc->intSubset->pentities))
    throw FeedError("the feed declares entities: refused");
  if (doc->extSubset ||
      (doc->intSubset && (doc->intSubset->SystemID || doc->intSubset->ExternalID)))
    throw FeedError("the feed names an external DTD: refused");  // named only: never read

  const xmlNode* root = xmlDocGetRootElement(doc.get());
  Feed feed;
  if (named(root, "rss")) {
    feed.format = "rss2";
    for (const xmlNode* ch = root->children; ch; ch = ch->next) {
      if (!named(ch, "channel")) continue;
      for (const xmlNode* c = ch->children; c; c = c->next) {
        if (named(c, "title") && no_namespace(c))
          feed.title = text_of(c);
        else if (named(c, "link") && no_namespace(c))
          feed.link = text_of(c);
        else if (named(c, "item") && feed.items.size() < kMaxItemsPerFeed)
          feed.items.push_back(rss_item(c));
      }
    }
  } else if (named(root, "feed", kAtom)) {
    feed.format = "atom";
    for (const xmlNode* c = root->children; c; c = c->next) {
      if (named(c, "title", kAtom))
        feed.title = text_of(c);
      else if (named(c, "link", kAtom) && feed.link.empty() &&
               (attribute(c, "rel").empty() || attribute(c, "rel") == "alternate"))
        feed.link = attribute(c, "href");
      else if (named(c, "entry", kAtom) && feed.items.size() < kMaxItemsPerFeed)
        feed.items.push_back(atom_entry(c));
    }
  } else if (named(root, "RDF", kRdf)) {
    feed.format = "rdf";
    for (const xmlNode* c = root->children; c; c = c->next) {
      if (named(c, "channel", kRss1)) {
        for (const xmlNode* d = c->children; d; d = d->next) {
          if (named(d, "title", kRss1))
            feed.title = text_of(d);
          else if (named(d, "link", kRss1))
            feed.link = text_of(d);
        }
      } else if (named(c, "item", kRss1) && feed.items.size() < kMaxItemsPerFeed) {
        feed.items.push_back(rdf_item(c));
      }
    }
  } else {
    throw FeedError(std::string("not a feed: the root element is <") +
                    (root ? as_chars(root->name) : "nothing") + ">, not rss, feed or rdf:RDF");
  }
  return feed;
}

}  // namespace passerelle::plugins::localtis
