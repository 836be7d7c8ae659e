// Article HTML made safe to show, with libxml2's HTML parser (never string matching): what is
// kept is rebuilt from the parsed tree through an allow-list of tags and attributes.
#pragma once

#include <string>
#include <string_view>

namespace passerelle::plugins::localtis {

/// `html` reduced to the allow-list: p, br, a (href: http, https, mailto; rel="noopener
/// noreferrer" added), strong, em, b, i, u, s, sub, sup, small, ul, ol, li, blockquote, q, cite,
/// h2-h6 (h1 becomes h2), pre, code, figure, figcaption, img (src: https or http only; alt,
/// title, width, height), table, thead, tbody, tr, th, td, caption, hr, abbr (title), span
/// and div (no attributes). Elements outside it keep their text, except script, style, iframe,
/// object, embed, form, template, noscript, svg, math and head, which go whole. No event
/// handler, style or class attribute survives; text is escaped.
/// `text`, when given, receives the plain text of the same parse (what plain_text() gives).
std::string sanitize_html(std::string_view html, std::string* text = nullptr);

/// `text` (plain text, not HTML) with its blank runs collapsed, at most `max_chars`
/// characters with "…" when cut (0: no limit); cut on a character's boundary.
std::string collapse_text(std::string_view text, std::size_t max_chars = 0);

/// `text` escaped for HTML, in a paragraph: a plain text body.
std::string text_paragraph(std::string_view text);

/// The text of `html` (tags dropped, entities decoded, blank runs collapsed), at most
/// `max_chars` characters (UTF-8 kept whole), with "…" when cut: excerpts and search text.
std::string plain_text(std::string_view html, std::size_t max_chars = 0);

/// Why `markup` is refused before libxml2 parses it, or "" when it is not. libxml2 2.9 checks
/// each attribute of a tag against all the others before it, a time that grows with the square
/// of their number (100,000 attributes: 17 s of one thread): a tag with more than
/// kMaxAttributes is refused, counted by one pass over the bytes that follows the quoting
/// rules and finds at least the attributes the parser finds. XML also refuses an internal DTD
/// subset (the scan cannot follow it, and a feed has no use for it). The bytes are UTF-8 or a
/// single-byte ASCII superset (the feed parser refuses other encodings first).
enum class Markup { xml, html };
std::string markup_refusal(std::string_view markup, Markup kind);
inline constexpr std::size_t kMaxAttributes = 256;

}  // namespace passerelle::plugins::localtis
