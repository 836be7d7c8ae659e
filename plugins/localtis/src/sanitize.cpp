#include "sanitize.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>

namespace passerelle::plugins::localtis {

namespace {

// An article's HTML is cut here: longer ones are rare, and libxml2's HTML parser takes time
// that grows with the square of a tag's attributes (a hostile fragment of 256 KiB costs under
// a second, on the blocking pool).
constexpr std::size_t kMaxHtmlBytes = 256 * 1024;
constexpr int kMaxDepth = 64;

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

const char* as_chars(const xmlChar* s) { return reinterpret_cast<const char*>(s); }

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool kept_tag(std::string_view t) {
  return one_of(t,
                {"p",    "br",     "a",          "strong", "em",    "b",     "i",     "u",
                 "s",    "sub",    "sup",        "small",  "ul",    "ol",    "li",    "blockquote",
                 "q",    "cite",   "h2",         "h3",     "h4",    "h5",    "h6",    "pre",
                 "code", "figure", "figcaption", "img",    "table", "thead", "tbody", "tr",
                 "th",   "td",     "caption",    "hr",     "abbr",  "span",  "div"});
}

bool dropped_whole(std::string_view t) {
  return one_of(
      t, {"script", "style", "iframe",   "object", "embed",  "form",     "template", "noscript",
          "svg",    "math",  "head",     "title",  "frame",  "frameset", "applet",   "base",
          "link",   "meta",  "textarea", "select", "button", "input"});
}

bool void_tag(std::string_view t) { return one_of(t, {"br", "hr", "img"}); }

void escape_into(std::string& out, std::string_view text, bool attribute) {
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        if (attribute)
          out += "&quot;";
        else
          out += c;
        break;
      default:
        out += c;
    }
  }
}

// A URL allowed in href or src: an absolute http(s) URL (mailto for links), after what
// browsers ignore (leading blanks and control characters) is taken into account: any such
// character, or a scheme not on the list, and the attribute goes.
bool allowed_url(std::string_view url, bool link) {
  for (const unsigned char c : url)
    if (c < 0x20 || c == 0x7f) return false;
  std::string lower;
  for (const char c : url.substr(0, 8))
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("https://", 0) == 0 || lower.rfind("http://", 0) == 0) return true;
  return link && lower.rfind("mailto:", 0) == 0;
}

bool digits_only(std::string_view v) {
  return !v.empty() && v.size() <= 5 &&
         std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  if (!v) return {};
  std::string out = as_chars(v);
  xmlFree(v);
  return out;
}

void put_attr(std::string& out, const char* name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  escape_into(out, value, true);
  out += '"';
}

void write_children(std::string& out, const xmlNode* n, int depth);

void write_node(std::string& out, const xmlNode* n, int depth) {
  if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
    if (n->content) escape_into(out, as_chars(n->content), false);
    return;
  }
  if (n->type != XML_ELEMENT_NODE || depth > kMaxDepth) return;
  std::string tag = as_chars(n->name);
  for (auto& c : tag) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (dropped_whole(tag)) return;
  if (tag == "h1") tag = "h2";
  if (!kept_tag(tag)) {  // html, body and anything unknown: its content only
    write_children(out, n, depth + 1);
    return;
  }
  if (tag == "img") {
    // https only: a reader's browser fetching a feed's http:// (or intranet) address is a
    // tracking pixel at best; an image without a safe source is nothing.
    const std::string src = attr(n, "src");
    if (!allowed_url(src, false) || src.rfind("https://", 0) != 0) return;
    out += "<img";
    put_attr(out, "src", src);
    for (const char* a : {"alt", "title"})
      if (const std::string v = attr(n, a); !v.empty()) put_attr(out, a, v);
    for (const char* a : {"width", "height"})
      if (const std::string v = attr(n, a); digits_only(v)) put_attr(out, a, v);
    out += " loading=\"lazy\" referrerpolicy=\"no-referrer\">";
    return;
  }
  out += '<';
  out += tag;
  if (tag == "a") {
    const std::string href = attr(n, "href");
    if (allowed_url(href, true)) {
      put_attr(out, "href", href);
      out += " rel=\"noopener noreferrer\"";
    }
    if (const std::string title = attr(n, "title"); !title.empty()) put_attr(out, "title", title);
  } else if (tag == "abbr") {
    if (const std::string title = attr(n, "title"); !title.empty()) put_attr(out, "title", title);
  } else if (tag == "td" || tag == "th") {
    for (const char* a : {"colspan", "rowspan"})
      if (const std::string v = attr(n, a); digits_only(v)) put_attr(out, a, v);
  }
  out += '>';
  if (void_tag(tag)) return;
  write_children(out, n, depth + 1);
  out += "</";
  out += tag;
  out += '>';
}

void write_children(std::string& out, const xmlNode* n, int depth) {
  for (const xmlNode* c = n->children; c; c = c->next) write_node(out, c, depth);
}

std::unique_ptr<xmlDoc, DocFree> parse_html(std::string_view html) {
  static std::once_flag initialised;
  std::call_once(initialised, [] { xmlInitParser(); });
  if (html.size() > kMaxHtmlBytes) {
    std::size_t cut = kMaxHtmlBytes;  // on a character's boundary: the result stays UTF-8
    while (cut > 0 && (static_cast<unsigned char>(html[cut]) & 0xC0) == 0x80) --cut;
    html = html.substr(0, cut);
  }
  if (!markup_refusal(html, Markup::html).empty()) return nullptr;  // hostile: nothing kept
  const int options =
      HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER;
  // The bytes are UTF-8 already (the feed's parser made them so).
  return std::unique_ptr<xmlDoc, DocFree>(
      htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8", options));
}

void text_into(std::string& out, const xmlNode* n, int depth) {
  for (const xmlNode* c = n->children; c; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (c->content) out += as_chars(c->content);
    } else if (c->type == XML_ELEMENT_NODE && depth < kMaxDepth &&
               !dropped_whole(as_chars(c->name))) {
      const bool block = one_of(as_chars(c->name), {"p", "br", "li", "div", "h1", "h2", "h3", "h4",
                                                    "h5", "h6", "tr", "blockquote"});
      if (block) out += ' ';
      text_into(out, c, depth + 1);
      if (block) out += ' ';
    }
  }
}

// The text of a parsed document, blank runs not yet collapsed.
std::string raw_text(const xmlDoc& doc) {
  std::string raw;
  for (const xmlNode* n = doc.children; n; n = n->next) {
    if (n->type == XML_TEXT_NODE && n->content)
      raw += as_chars(n->content);
    else if (n->type == XML_ELEMENT_NODE && !dropped_whole(as_chars(n->name)))
      text_into(raw, n, 0);
  }
  return raw;
}

}  // namespace

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Counts the attributes of the tag whose name starts at m[i] and moves i past the tag: names
// (with or without a value) up to the '>' that is not inside a quoted value; a quote opens a
// value only right after '='. A stray character counts as a name: more, never fewer, than the
// parsers find.
std::size_t attributes_of_tag(std::string_view m, std::size_t& i) {
  while (i < m.size() && !blank(m[i]) && m[i] != '>' && m[i] != '/') ++i;  // the tag's name
  std::size_t count = 0;
  while (i < m.size()) {
    while (i < m.size() && (blank(m[i]) || m[i] == '/')) ++i;
    if (i >= m.size() || m[i] == '>') break;
    ++count;
    while (i < m.size() && !blank(m[i]) && m[i] != '=' && m[i] != '>') ++i;  // a name
    while (i < m.size() && blank(m[i])) ++i;
    if (i >= m.size() || m[i] != '=') continue;
    ++i;
    while (i < m.size() && blank(m[i])) ++i;
    if (i < m.size() && (m[i] == '"' || m[i] == '\'')) {
      const auto close = m.find(m[i], i + 1);  // '>' inside is the value's
      i = close == std::string_view::npos ? m.size() : close + 1;
    } else {
      while (i < m.size() && !blank(m[i]) && m[i] != '>') ++i;  // unquoted (HTML)
    }
  }
  return count;
}

}  // namespace

std::string markup_refusal(std::string_view m, Markup kind) {
  const bool xml = kind == Markup::xml;
  std::size_t most = 0;
  for (std::size_t i = m.find('<'); i != std::string_view::npos; i = m.find('<', i)) {
    const std::string_view rest = m.substr(i);
    const auto skip_past = [&](std::string_view end) {
      const auto at = m.find(end, i + 1);
      i = at == std::string_view::npos ? m.size() : at + end.size();
    };
    // XML says exactly where comments, CDATA sections and processing instructions end, and
    // nothing in them is a tag. HTML's parser is lenient: nothing is skipped there (a tag in
    // a comment is counted; more, never fewer).
    if (xml && rest.rfind("<!--", 0) == 0) {
      skip_past("-->");
    } else if (xml && rest.rfind("<![CDATA[", 0) == 0) {
      skip_past("]]>");
    } else if (xml && rest.rfind("<?", 0) == 0) {
      skip_past("?>");
    } else if (xml && rest.rfind("<!", 0) == 0) {
      const auto bracket = rest.find('['), close = rest.find('>');
      if (bracket != std::string_view::npos && bracket < close)
        return "a DTD subset (entity declarations)";  // nothing a feed needs
      skip_past(">");
    } else if (rest.size() > 1 && (xml ? !blank(rest[1]) && std::string_view("/!?<>=").find(
                                                                rest[1]) == std::string_view::npos
                                       : std::isalpha(static_cast<unsigned char>(rest[1])) ||
                                             rest[1] == '_' || rest[1] == ':')) {
      i += 1;
      most = std::max(most, attributes_of_tag(m, i));
    } else {
      ++i;
    }
  }
  if (most > kMaxAttributes)
    return "a tag with more than " + std::to_string(kMaxAttributes) + " attributes";
  return {};
}

std::string sanitize_html(std::string_view html, std::string* text) {
  if (text) text->clear();
  if (html.empty()) return {};
  const auto doc = parse_html(html);
  if (!doc) return {};
  std::string out;
  for (const xmlNode* n = doc->children; n; n = n->next) write_node(out, n, 0);
  if (text) *text = collapse_text(raw_text(*doc));  // the same parse: parsing is the cost
  return out;
}

std::string text_paragraph(std::string_view text) {
  std::string out = "<p>";
  escape_into(out, collapse_text(text), false);
  return out + "</p>";
}

std::string plain_text(std::string_view html, std::size_t max_chars) {
  std::string raw;
  if (html.find('<') == std::string_view::npos && html.find('&') == std::string_view::npos) {
    raw = std::string(html);
  } else if (const auto doc = parse_html(html)) {
    raw = raw_text(*doc);
  }
  return collapse_text(raw, max_chars);
}

std::string collapse_text(std::string_view raw, std::size_t max_chars) {
  // Blank runs (spaces, tabs, newlines, non-breaking spaces) become one space.
  std::string out;
  bool blank = true;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    const bool nbsp =
        c == 0xC2 && i + 1 < raw.size() && static_cast<unsigned char>(raw[i + 1]) == 0xA0;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || nbsp) {
      if (nbsp) ++i;
      if (!blank) {
        if (max_chars && chars == max_chars) return out + "\xE2\x80\xA6";  // …
        out += ' ';
        ++chars;
      }
      blank = true;
      continue;
    }
    blank = false;
    if ((c & 0xC0) != 0x80) {  // the first byte of a character
      if (max_chars && chars == max_chars) {
        while (!out.empty() && out.back() == ' ') out.pop_back();
        return out + "\xE2\x80\xA6";  // …
      }
      ++chars;
    }
    out += static_cast<char>(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace passerelle::plugins::localtis
