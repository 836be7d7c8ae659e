// The localtis plugin's reading of feeds: the feed formats and encodings, the dates French
// feeds carry, hostile documents refused, and article HTML reduced to what is safe to show.
#include "dates.hpp"
#include "feed.hpp"
#include "french_search.hpp"
#include "sanitize.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

using namespace passerelle::plugins::localtis;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(PASSERELLE_TEST_FIXTURES) + "/feeds/" + name, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "no fixture " << name);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::int64_t utc(int y, int m, int d, int h, int mi, int s = 0) {
  return days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
}

std::string refusal(const std::string& bytes, const std::string& charset = {}) {
  try {
    parse_feed(bytes, charset);
  } catch (const FeedError& e) {
    return e.what();
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(localtis_dates)

BOOST_AUTO_TEST_CASE(rfc_822_and_rfc_3339) {
  BOOST_TEST(*parse_feed_date("Mon, 02 Jun 2025 08:30:00 +0200") == utc(2025, 6, 2, 6, 30));
  BOOST_TEST(*parse_feed_date("Mon, 02 Jun 2025 06:30:00 GMT") == utc(2025, 6, 2, 6, 30));
  BOOST_TEST(*parse_feed_date("2 Jun 25 06:30 UT") == utc(2025, 6, 2, 6, 30));
  BOOST_TEST(*parse_feed_date("Tue, 10 Dec 2024 17:00:00 EST") == utc(2024, 12, 10, 22, 0));
  BOOST_TEST(*parse_feed_date("2025-06-03T08:00:00+02:00") == utc(2025, 6, 3, 6, 0));
  BOOST_TEST(*parse_feed_date("2025-06-02T16:45:30.5Z") == utc(2025, 6, 2, 16, 45, 30));
  BOOST_TEST(*parse_feed_date("2025-06-02T16:45:30-05:30") == utc(2025, 6, 2, 22, 15, 30));
}

// French feeds: day and month names in French (accents or not), "1er", "dd/mm/yyyy - hh:mm",
// "08h30", and no zone at all: Paris time, summer or winter.
BOOST_AUTO_TEST_CASE(what_french_feeds_write_and_paris_time) {
  BOOST_TEST(*parse_feed_date("lundi 2 juin 2025 à 10h15") == utc(2025, 6, 2, 8, 15));
  BOOST_TEST(*parse_feed_date("02/06/2025 - 09:30") == utc(2025, 6, 2, 7, 30));
  BOOST_TEST(*parse_feed_date("2 juin 2025") == utc(2025, 6, 1, 22, 0));
  BOOST_TEST(*parse_feed_date("1er décembre 2025 14:00") == utc(2025, 12, 1, 13, 0));
  BOOST_TEST(*parse_feed_date("mardi 4 fevrier 2025 08:00") == utc(2025, 2, 4, 7, 0));
  BOOST_TEST(*parse_feed_date("15 août 2025") == utc(2025, 8, 14, 22, 0));
  // The changes of 2025: 30 March 02:00 -> 03:00, 26 October 03:00 -> 02:00 (local).
  BOOST_TEST(paris_offset(2025, 3, 30, 1) == 3600);
  BOOST_TEST(paris_offset(2025, 3, 30, 3) == 7200);
  BOOST_TEST(paris_offset(2025, 10, 26, 1) == 7200);
  BOOST_TEST(paris_offset(2025, 10, 26, 3) == 3600);
  BOOST_TEST(paris_offset(2025, 1, 15, 12) == 3600);
  BOOST_TEST(paris_offset(2025, 7, 15, 12) == 7200);
}

BOOST_AUTO_TEST_CASE(what_is_no_date) {
  for (const char* text : {"", "demain", "32/01/2025", "2025-02-30T10:00:00Z", "29 fev 2025",
                           "Mon, 02 Foo 2025 08:30:00 +0200", "2025-06-02T25:00:00Z",
                           "02 Jun 2025 08:30:00 +9900", "2 juin 2025 10:00 Mars"})
    BOOST_TEST(!parse_feed_date(text).has_value(), text);
  BOOST_TEST(parse_feed_date("29 fev 2024").has_value());  // a leap year
  BOOST_TEST(!parse_feed_date(std::string(500, '1')).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(localtis_feeds)

BOOST_AUTO_TEST_CASE(rss_2_with_its_modules) {
  const Feed f = parse_feed(fixture("rss2.xml"));
  BOOST_TEST(f.format == "rss2");
  BOOST_TEST(f.title == "Localtis – Finances locales");
  BOOST_TEST_REQUIRE(f.items.size() == 2u);
  const FeedItem& a = f.items[0];
  BOOST_TEST(a.title == "Dotations 2026 : ce qui change pour les communes & les EPCI");
  BOOST_TEST(a.guid == "localtis-2026-0001");
  BOOST_TEST(a.link == "https://localtis.example.fr/articles/dotations-2026");
  BOOST_TEST(a.summary == "<p>La <strong>DGF</strong> progresse.</p>");
  BOOST_TEST(a.content.find("<script>") != std::string::npos);  // sanitised later, not here
  BOOST_TEST(a.author == "Rédaction Localtis");
  BOOST_TEST((a.categories == std::vector<std::string>{"Finances locales", "Dotations"}));
  BOOST_TEST(*parse_feed_date(a.date) == utc(2025, 6, 2, 6, 30));
  BOOST_TEST(a.enclosure == "https://localtis.example.fr/img/dgf.jpg");
  BOOST_TEST(f.items[1].guid.empty());
  BOOST_TEST(*parse_feed_date(f.items[1].date) == utc(2025, 6, 2, 8, 15));
}

BOOST_AUTO_TEST_CASE(atom_text_html_and_xhtml) {
  const Feed f = parse_feed(fixture("atom.xml"));
  BOOST_TEST(f.format == "atom");
  BOOST_TEST(f.link == "https://actu.example.fr/");
  BOOST_TEST_REQUIRE(f.items.size() == 2u);
  const FeedItem& a = f.items[0];
  BOOST_TEST(a.title == "Revitalisation <em>des centres-bourgs</em>");  // type="html"
  BOOST_TEST(a.link == "https://actu.example.fr/centres-bourgs");
  BOOST_TEST(a.guid == "urn:uuid:entry-1");
  BOOST_TEST(a.author == "Claire Martin");
  BOOST_TEST(a.categories.at(0) == "Urbanisme");
  BOOST_TEST(!a.summary_is_html);
  BOOST_TEST(a.content.find("<p>Premier <b>paragraphe</b>.</p>") != std::string::npos, a.content);
  BOOST_TEST(*parse_feed_date(a.date) == utc(2025, 6, 3, 6, 0));  // published, not updated
  BOOST_TEST(f.items[1].content.find("<img src=\"javascript:alert(1)\">") != std::string::npos);
  BOOST_TEST(*parse_feed_date(f.items[1].date) == utc(2025, 6, 2, 16, 45, 30));
}

BOOST_AUTO_TEST_CASE(rss_1_rdf) {
  const Feed f = parse_feed(fixture("rdf.xml"));
  BOOST_TEST(f.format == "rdf");
  BOOST_TEST(f.title == "Actualités sociales");
  BOOST_TEST_REQUIRE(f.items.size() == 1u);
  BOOST_TEST(f.items[0].guid == "https://rdf.example.fr/a1");
  BOOST_TEST(f.items[0].title == "Petite enfance : nouvelles aides");
  BOOST_TEST(f.items[0].categories.at(0) == "Social");
  BOOST_TEST(*parse_feed_date(f.items[0].date) == utc(2025, 5, 30, 12, 0));
}

// Encodings: what the prolog declares, and the HTTP header's charset above it (RFC 7303).
BOOST_AUTO_TEST_CASE(latin_1_and_windows_1252) {
  BOOST_TEST(parse_feed(fixture("latin1.xml")).items.at(0).title ==
             "Élection à l'intercommunalité");
  const Feed w = parse_feed(fixture("windows1252.xml"));
  BOOST_TEST(w.items.at(0).title == "Un budget de 5 M€ pour l’eau");
  BOOST_TEST(w.items.at(0).summary == "Programme « Aqua ».");
  BOOST_TEST(parse_feed(fixture("http_charset.xml"), "windows-1252").items.at(0).title ==
             "Un budget de 5 M€ pour l’eau");
  BOOST_TEST(refusal(fixture("http_charset.xml")).find("not a feed") == 0u);  // bytes not UTF-8
}

// Hostile and broken documents: refused with one line, fast, nothing read outside.
BOOST_AUTO_TEST_CASE(hostile_and_broken_feeds_are_refused) {
  const auto started = std::chrono::steady_clock::now();
  const std::string laughs = refusal(fixture("billion_laughs.xml"));
  BOOST_TEST(!laughs.empty());
  BOOST_TEST_MESSAGE("billion laughs: " << laughs << " ("
                                        << std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - started)
                                               .count()
                                        << " ms)");
  BOOST_TEST(refusal(fixture("xxe.xml")) == "a DTD subset (entity declarations): refused");
  BOOST_TEST(!refusal(fixture("external_dtd.xml")).empty());
  BOOST_TEST(refusal(fixture("malformed.xml")).rfind("not a feed: line ", 0) == 0u,
             refusal(fixture("malformed.xml")));
  BOOST_TEST(refusal(fixture("not_a_feed.xml")) ==
             "not a feed: the root element is <html>, not rss, feed or rdf:RDF");
  BOOST_TEST(refusal("") == "empty feed");
  BOOST_TEST(!refusal(std::string(17 * 1024 * 1024, ' ')).empty());
  // Deep nesting: libxml2's depth limit, not the stack.
  std::string deep = "<rss version=\"2.0\"><channel>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  BOOST_TEST(!refusal(deep).empty());
  // A tag with thousands of attributes (libxml2 2.9 compares each with all the others):
  // refused before parsing, however it is hidden.
  std::string crowd;
  for (int i = 0; i < 5000; ++i) crowd += " a" + std::to_string(i) + "='1'";
  const std::string crowded = "<rss version=\"2.0\"><channel><title" + crowd + ">t</title>";
  const std::string refused = "a tag with more than 256 attributes: refused";
  BOOST_TEST(refusal(crowded + "</channel></rss>") == refused);
  // Behind a processing instruction that holds what looks like a CDATA section's start.
  BOOST_TEST(refusal("<?x > <![CDATA[ ?>" + crowded + "</channel></rss>") == refused);
  // In a quoted value, '>' does not end the tag.
  BOOST_TEST(refusal("<rss version=\"2.0\"><channel><title b=\"x>\"" + crowd +
                     ">t</title></channel></rss>") == refused);
  // An internal DTD subset (comments in it could hide the rest from the scan): refused.
  BOOST_TEST(refusal("<!DOCTYPE rss [<!-- > <![CDATA[ -->]>" + crowded + "</channel></rss>") ==
             "a DTD subset (entity declarations): refused");
  // Encodings in which '<' and '=' are not those bytes: not read.
  BOOST_TEST(refusal(crowded + "</channel></rss>", "utf-7").find("charset utf-7 is not read") ==
             0u);
  BOOST_TEST(refusal("<?xml version=\"1.0\" encoding=\"UTF-7\"?>" + crowded)
                 .find("encoding UTF-7 is not read") == 0u);
  BOOST_TEST(refusal(std::string("\xFF\xFE<\0r\0s\0s\0>\0", 10))
                 .find("the document does not start with '<'") == 0u);
  BOOST_TEST(
      refusal("<rss version=\"2.0\"><channel><title>t</title></channel></rss>", "ISO-8859-15")
          .find("encoding") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_markup_scan_counts_what_the_parsers_find) {
  using passerelle::plugins::localtis::Markup;
  using passerelle::plugins::localtis::markup_refusal;
  std::string names, stray;
  for (int i = 0; i < 300; ++i) names += " a" + std::to_string(i);
  for (int i = 0; i < 300; ++i) stray += " b" + std::to_string(i) + "=1";
  // HTML: attributes without values; a quote inside an unquoted value; a CDATA marker (HTML
  // has none) before the tag; a tag inside a comment (counted: more, never fewer).
  for (const std::string& html :
       {"<p" + names + ">", "<p x=a\"" + stray + " \">", "<![CDATA[ > <p" + stray + ">",
        "<!-- <p" + names + "> -->", "<P" + names + "/>"})
    BOOST_TEST(markup_refusal(html, Markup::html) == "a tag with more than 256 attributes",
               html.substr(0, 30));
  // What is no tag, or a reasonable one, passes.
  for (const std::string& fine :
       {std::string("<p class=\"a b c\" title='x > y'>Texte</p>"), std::string("a < b et 3 <4"),
        std::string("<a href=x=y>lien</a>"), std::string("sans balise = ici")})
    BOOST_TEST(markup_refusal(fine, Markup::html).empty(), fine);
  // XML: CDATA, comments and processing instructions hold no tag.
  BOOST_TEST(
      markup_refusal("<r><![CDATA[<p" + names + ">]]><!-- <p" + names + "> --></r>", Markup::xml)
          .empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(localtis_sanitize)

BOOST_AUTO_TEST_CASE(the_allowed_markup_stays) {
  BOOST_TEST(sanitize_html("<p>Le <strong>budget</strong> <em>primitif</em></p>") ==
             "<p>Le <strong>budget</strong> <em>primitif</em></p>");
  BOOST_TEST(
      sanitize_html("<a href=\"https://www.example.fr/a?b=1&amp;c=2\">lien</a>") ==
      "<a href=\"https://www.example.fr/a?b=1&amp;c=2\" rel=\"noopener noreferrer\">lien</a>");
  BOOST_TEST(sanitize_html("<h1>Titre</h1><ul><li>un</li></ul>") ==
             "<h2>Titre</h2><ul><li>un</li></ul>");
  BOOST_TEST(
      sanitize_html("<img src=\"https://i.example.fr/a.jpg\" alt=\"Mairie\" width=\"300\">") ==
      "<img src=\"https://i.example.fr/a.jpg\" alt=\"Mairie\" width=\"300\" loading=\"lazy\" "
      "referrerpolicy=\"no-referrer\">");
  BOOST_TEST(sanitize_html("<p><img src=\"http://10.0.0.1/pixel.gif\"></p>") == "<p></p>");
  BOOST_TEST(text_paragraph("a < b & c") == "<p>a &lt; b &amp; c</p>");
  BOOST_TEST(collapse_text("a < b\n  c") == "a < b c");
  BOOST_TEST(sanitize_html("x < y & z") == "<p>x &lt; y &amp; z</p>");  // text in a paragraph
}

// Vectors of the OWASP XSS filter evasion cheat sheet, and their kind: nothing active survives.
BOOST_AUTO_TEST_CASE(xss_vectors_leave_nothing_active) {
  const char* vectors[] = {
      "<script>alert('XSS')</script>",
      "<SCRIPT SRC=http://xss.example/xss.js></SCRIPT>",
      "<IMG SRC=\"javascript:alert('XSS');\">",
      "<IMG SRC=javascript:alert('XSS')>",
      "<IMG SRC=JaVaScRiPt:alert('XSS')>",
      "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
      "<a onmouseover=\"alert(document.cookie)\">xxs link</a>",
      "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\"\\>",
      "<IMG SRC=/ onerror=\"alert(String.fromCharCode(88,83,83))\"></img>",
      "<img src=x "
      "onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&"
      "#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#"
      "0000083&#0000083&#0000039&#0000041\">",
      "<IMG "
      "SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#"
      "116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
      "<IMG SRC=\"jav\tascript:alert('XSS');\">",
      "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
      "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
      "<SCRIPT/XSS SRC=\"http://xss.example/xss.js\"></SCRIPT>",
      "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>",
      "<<SCRIPT>alert(\"XSS\");//<</SCRIPT>",
      "<iframe src=http://xss.example/scriptlet.html <",
      "<a href=\"javascript:alert(1)\">x</a>",
      "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
      "<a href=\"vbscript:msgbox(1)\">x</a>",
      "<svg/onload=alert('XSS')>",
      "<STYLE>@import'http://xss.example/xss.css';</STYLE>",
      "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
      "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
      "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"http://xss.example/scriptlet.html\"></OBJECT>",
      "<EMBED SRC=\"data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=\" AllowScriptAccess=\"always\">",
      "<form action=\"javascript:alert(1)\"><button>go</button></form>",
      "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
      "<base href=\"javascript:alert('XSS');//\">",
      "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert('XSS');\">",
      "<p style=\"x:expression(alert(1))\" class=\"evil\" id=\"login\">t</p>",
  };
  for (const char* v : vectors) {
    const std::string out = sanitize_html(v);
    std::string lower;
    for (const char c : out)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* bad :
         {"<script", "javascript:", "vbscript:", "data:",  "onerror", "onload", "onmouseover",
          "onclick", "<iframe",     "<object",   "<embed", "<svg",    "<style", "style=",
          "<form",   "<base",       "<meta",     "<math",  "class=",  "id=",    "background"})
      BOOST_TEST(lower.find(bad) == std::string::npos, v << " -> " << out);
  }
}

BOOST_AUTO_TEST_CASE(html_with_a_crowded_tag_is_dropped) {
  std::string html = "<p";
  for (int i = 0; i < 300; ++i) html += " data-" + std::to_string(i) + "=x";
  html += ">Texte</p>";
  std::string text = "unchanged";
  BOOST_TEST(sanitize_html(html, &text).empty());
  BOOST_TEST(text.empty());
  BOOST_TEST(sanitize_html("<p data-x=y>Texte</p>", &text) == "<p>Texte</p>");
  BOOST_TEST(text == "Texte");
}

BOOST_AUTO_TEST_CASE(plain_text_for_excerpts_and_search) {
  BOOST_TEST(plain_text("<p>Le <b>budget</b></p><p>primitif&nbsp;2026</p><script>x()</script>") ==
             "Le budget primitif 2026");
  BOOST_TEST(plain_text("Déjà   du\n texte") == "Déjà du texte");
  BOOST_TEST(plain_text("<p>éèàùç éèàùç</p>", 7) == "éèàùç é…");  // the space counts
  BOOST_TEST(plain_text("<p>un deux</p>", 3) == "un…");
  BOOST_TEST(plain_text("") == "");
}

BOOST_AUTO_TEST_SUITE_END()

// Search terms: the same function for articles and queries; stems, case and accents.
BOOST_AUTO_TEST_SUITE(localtis_search)

using passerelle::plugins::french::query_terms;
using passerelle::plugins::french::search_terms;

// True when every term of the query is among the text's terms.
bool finds(const std::string& text, const std::string& query) {
  const std::string indexed = " " + search_terms(text) + " ";
  const auto terms = query_terms(query);
  if (terms.empty()) return false;
  for (const auto& t : terms) {
    const bool found = t.prefix ? indexed.find(" " + t.term) != std::string::npos
                                : indexed.find(" " + t.term + " ") != std::string::npos;
    if (!found) return false;
  }
  return true;
}

BOOST_AUTO_TEST_CASE(stems_case_and_accents) {
  BOOST_TEST(finds("Les financements de la commune", "financer"));
  BOOST_TEST(finds("Financer la voirie", "financement"));
  BOOST_TEST(
      finds("L'\xc3\xa9"
            "cologie",
            "\xc3\xa9"
            "co"));  // "éco" finds "écologie"
  BOOST_TEST(finds("ECOLOGIE",
                   "\xc3\xa9"
                   "co"));
  // A query typed without the accents finds the accented words, and the other way round.
  BOOST_TEST(
      finds("R\xc3\xa9"
            "fection des chauss\xc3\xa9"
            "es",
            "chaussee"));
  BOOST_TEST(
      finds("R\xc3\xa9"
            "fection des chauss\xc3\xa9"
            "es",
            "refection chaussees"));
  BOOST_TEST(
      finds("Une d\xc3\xa9"
            "lib\xc3\xa9"
            "ration du conseil",
            "deliberation"));
  BOOST_TEST(
      finds("Une d\xc3\xa9"
            "lib\xc3\xa9"
            "ration du conseil",
            "d\xc3\xa9"
            "lib\xc3\xa9"
            "rations"));
  BOOST_TEST(
      finds("Les \xc3\xa9"
            "lus locaux",
            "ELUS"));
  BOOST_TEST(!finds("Les financements", "voirie"));
}

BOOST_AUTO_TEST_CASE(stopwords_short_words_and_limits) {
  BOOST_TEST(query_terms("le la les de des").empty());
  BOOST_TEST(query_terms("de l'eau").size() == 1u);  // "eau": a prefix, three letters
  BOOST_TEST(query_terms("de l'eau").at(0).prefix);
  BOOST_TEST(!query_terms("financement").at(0).prefix);
  BOOST_TEST(query_terms("a b c d e f g h i j k l m n o p").empty());  // none of 3 letters
  BOOST_TEST(query_terms("un deux trois quatre cinq six sept huit neuf dix onze").size() == 8u);
  // A word longer than 40 bytes is cut, not kept whole.
  BOOST_TEST(search_terms(std::string(5000, 'x')).size() <= 40u);
  BOOST_TEST(search_terms("un deux trois quatre", 2) == search_terms("un deux trois"));
}

BOOST_AUTO_TEST_SUITE_END()
