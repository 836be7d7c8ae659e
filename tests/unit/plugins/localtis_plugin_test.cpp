// The localtis plugin through its real library, on the store of the fixture (SQLite, and
// PostgreSQL in the .postgresql run): feeds ingested on request, deduplicated, updated in place;
// French search (stems, accents, prefixes), filters, pagination, ETags; a hostile feed hurting
// only itself; roles per route; the widget.
#include "feeds_config.hpp"
#include "support/app_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

using namespace passerelle;
using namespace passerelle::test;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(PASSERELLE_TEST_FIXTURES) + "/feeds/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Two articles that differ by their accents only, and a national one on the same subject.
const char* kEcology = R"(<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Écologie</title><link>https://e.example.fr/</link>
<item><title>L'écologie au conseil municipal</title><link>https://e.example.fr/1</link><guid>eco-1</guid>
<description>Les financements de la transition.</description><pubDate>Mon, 02 Jun 2025 08:30:00 +0200</pubDate></item>
<item><title>Ecologie et budget</title><link>https://e.example.fr/2</link><guid>eco-2</guid>
<description>Financer les projets.</description><pubDate>Tue, 03 Jun 2025 08:30:00 +0200</pubDate></item>
</channel></rss>)";

struct Localtis : AppFixture {
  Localtis() {
    dir.write("rss2.xml", fixture("rss2.xml"));
    dir.write("atom.xml", fixture("atom.xml"));
    dir.write("rdf.xml", fixture("rdf.xml"));
    dir.write("ecology.xml", kEcology);
    dir.write("laughs.xml", fixture("billion_laughs.xml"));
    dir.write("feeds.yaml",
              "feeds:\n"
              "  - {id: finances, file: rss2.xml, theme: finances-locales, theme_label: Finances "
              "locales}\n"
              "  - {id: actu, file: atom.xml, theme: urbanisme, theme_label: Urbanisme}\n"
              "  - {id: social, file: rdf.xml, theme: social, region: \"52\"}\n"
              "  - {id: ecologie, file: ecology.xml, theme: environnement, region: \"52\"}\n"
              "  - {id: hostile, file: laughs.xml, theme: social}\n");
    start("  - name: localtis\n    library: " + module("localtis") +
          "\n    config:\n      feeds_file: " + dir.path() + "/feeds.yaml\n      poll: false\n");
    identity = make_identity({"operator"});
  }

  boost::json::value refresh(const std::string& feed) {
    const Response r = call("POST", "/api/localtis/feeds/" + feed + "/refresh");
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    return json(r);
  }

  void refresh_all() {
    for (const char* f : {"finances", "actu", "social", "ecologie"})
      BOOST_TEST(refresh(f).at("last_status").as_string() == "ok", f);
  }

  std::vector<std::string> titles(const std::string& target) {
    const Response r = call("GET", target);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    std::vector<std::string> out;
    const boost::json::value answer = json(r);
    for (const auto& a : answer.at("articles").as_array())
      out.emplace_back(a.at("title").as_string());
    return out;
  }
};

bool has(const std::vector<std::string>& titles, const std::string& title) {
  return std::find(titles.begin(), titles.end(), title) != titles.end();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(localtis_plugin)

BOOST_FIXTURE_TEST_CASE(feeds_are_ingested_once_and_updated_in_place, Localtis) {
  refresh_all();
  BOOST_TEST(titles("/api/localtis/articles?limit=50").size() == 7u);
  refresh_all();  // the same items again: nothing doubled
  BOOST_TEST(titles("/api/localtis/articles?limit=50").size() == 7u);
  const auto first = json(call("GET", "/api/localtis/articles?q=dotations")).at("articles").at(0);
  // The feed changes the title of an item it published: same article, new title.
  std::string changed = fixture("rss2.xml");
  const std::string from = "Dotations 2026 : ce qui change";
  changed.replace(changed.find(from), from.size(), "Dotations 2026 : ce qui change vraiment");
  dir.write("rss2.xml", changed);
  refresh("finances");
  const auto again = json(call("GET", "/api/localtis/articles?q=dotations")).at("articles").at(0);
  BOOST_TEST(again.at("id") == first.at("id"));
  BOOST_TEST(again.at("title").as_string().find("vraiment") != std::string::npos);
  BOOST_TEST(titles("/api/localtis/articles?limit=50").size() == 7u);
  // Dates: the French one of the undated-looking item, read as Paris time.
  const auto listed = json(call("GET", "/api/localtis/articles?theme=finances-locales"));
  bool found = false;
  for (const auto& a : listed.at("articles").as_array())
    if (a.at("title").as_string() == "Sans identifiant") {
      found = true;
      BOOST_TEST(a.at("published_at").as_string() == "2025-06-02T08:15:00Z");
    }
  BOOST_TEST(found);
}

// What a feed's HTML may carry is gone from the body; the excerpt is text.
BOOST_FIXTURE_TEST_CASE(article_bodies_are_sanitised, Localtis) {
  refresh_all();
  const auto list = json(call("GET", "/api/localtis/articles?q=dotations"));
  const std::string id(list.at("articles").at(0).at("id").as_string());
  const Response r = call("GET", "/api/localtis/articles/" + id);
  BOOST_TEST_REQUIRE(r.status == 200);
  const std::string body(json(r).at("body").as_string());
  BOOST_TEST(body.find("<script") == std::string::npos, body);
  BOOST_TEST(body.find("rel=\"noopener noreferrer\"") != std::string::npos, body);
  const auto schools = json(call("GET", "/api/localtis/articles?q=ecoles")).at("articles");
  BOOST_TEST_REQUIRE(schools.as_array().size() >= 1u);
  const Response school =
      call("GET", "/api/localtis/articles/" + std::string(schools.at(0).at("id").as_string()));
  BOOST_TEST(std::string(json(school).at("body").as_string()).find("javascript") ==
             std::string::npos);
  BOOST_TEST(call("GET", "/api/localtis/articles/999999").status == 404);
  BOOST_TEST(call("GET", "/api/localtis/articles/abc").status == 404);
}

// French search: stems ("financement" finds "financements" and "financer"), accents and case
// ("éco" finds "écologie" and "Ecologie"), the user's region first.
BOOST_FIXTURE_TEST_CASE(search_in_french, Localtis) {
  refresh_all();
  const auto eco = titles("/api/localtis/articles?q=%C3%A9co");
  BOOST_TEST(has(eco, "L'écologie au conseil municipal"));
  BOOST_TEST(has(eco, "Ecologie et budget"));
  const auto financing = titles("/api/localtis/articles?q=financement");
  BOOST_TEST(has(financing, "L'écologie au conseil municipal"));  // "financements"
  BOOST_TEST(has(financing, "Ecologie et budget"));               // "Financer"
  BOOST_TEST(titles("/api/localtis/articles?q=ECOLOGIE").size() == 2u);
  BOOST_TEST(titles("/api/localtis/articles?q=zzzzqqq").empty());
  BOOST_TEST(titles("/api/localtis/articles?q=%22%3B%20DROP").empty());  // no syntax reaches FTS
  // Filters.
  BOOST_TEST(titles("/api/localtis/articles?theme=environnement").size() == 2u);
  BOOST_TEST(titles("/api/localtis/articles?region=52").size() == 3u);
  BOOST_TEST(titles("/api/localtis/articles?since=2025-06-03").size() >= 1u);
  BOOST_TEST(call("GET", "/api/localtis/articles?since=bientot").status == 400);
  // "enfance" appears in the regional RDF item only; "petite" in it and in the Atom one: the
  // regional one comes first for a user of region 52.
  const auto small = titles("/api/localtis/articles?q=petite");
  BOOST_TEST_REQUIRE(small.size() >= 2u);
  BOOST_TEST(small.front() == "Petite enfance : nouvelles aides");
}

BOOST_FIXTURE_TEST_CASE(pages_tags_and_limits, Localtis) {
  refresh_all();
  auto page = json(call("GET", "/api/localtis/articles?limit=3"));
  BOOST_TEST(page.at("articles").as_array().size() == 3u);
  BOOST_TEST_REQUIRE(page.at("next_cursor").is_string());
  auto next = json(call("GET", "/api/localtis/articles?limit=3&cursor=" +
                                   std::string(page.at("next_cursor").as_string())));
  BOOST_TEST(next.at("articles").as_array().size() == 3u);
  BOOST_TEST(next.at("articles").at(0).at("id") != page.at("articles").at(0).at("id"));
  BOOST_TEST(call("GET", "/api/localtis/articles?limit=0").status == 400);
  BOOST_TEST(call("GET", "/api/localtis/articles?limit=51").status == 400);
  BOOST_TEST(call("GET", "/api/localtis/articles?cursor=-1").status == 400);
  BOOST_TEST(call("GET", "/api/localtis/articles?q=" + std::string(201, 'a')).status == 400);
  // ETag: the same answer again is a 304 for who has it.
  const Response first = call("GET", "/api/localtis/themes");
  std::string tag;
  for (const auto& [k, v] : first.headers)
    if (k == "ETag") tag = v;
  BOOST_TEST_REQUIRE(!tag.empty());
  IncomingRequest in;
  in.method = "GET";
  in.target = "/api/localtis/themes";
  in.headers.emplace_back("if-none-match", tag);
  in.request_id = "t";
  BOOST_TEST(run(dispatcher.handle(std::move(in))).status == 304);
  const auto themes = json(first).at("themes").as_array();
  BOOST_TEST(themes.at(0).at("label").as_string() == "Finances locales");
  BOOST_TEST(themes.at(0).at("articles").as_int64() == 2);
}

// A hostile feed is refused and reported; the others are served as before.
BOOST_FIXTURE_TEST_CASE(a_hostile_feed_hurts_only_itself, Localtis) {
  refresh_all();
  const auto hostile = refresh("hostile");
  BOOST_TEST(hostile.at("last_status").as_string() == "error");
  BOOST_TEST(std::string(hostile.at("last_error").as_string()).find("entit") != std::string::npos,
             hostile);
  BOOST_TEST(hostile.at("failures").as_int64() == 1);
  BOOST_TEST(titles("/api/localtis/articles?limit=50").size() == 7u);
  const auto feeds = json(call("GET", "/api/localtis/feeds")).at("feeds").as_array();
  BOOST_TEST(feeds.size() == 5u);
  BOOST_TEST(feeds.at(0).at("articles").as_int64() == 2);
  BOOST_TEST(call("POST", "/api/localtis/feeds/nope/refresh").status == 404);
}

// A feed that reuses another's guid makes an article of its own, and leaves the other's as it
// was; plain text stays text ("<" is no tag); words that say nothing make no query.
BOOST_FIXTURE_TEST_CASE(feeds_cannot_touch_each_other_and_text_stays_text, Localtis) {
  refresh_all();
  dir.write("rss2.xml",
            R"(<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>x</title>
<item><title>Budget &lt; prévu</title><link>https://evil.example/</link><guid>eco-1</guid>
<description>a &lt;b&gt;b&lt;/b&gt;</description></item></channel></rss>)");
  refresh("finances");  // the "finances" feed now claims the ecology feed's guid
  const auto eco = titles("/api/localtis/articles?theme=environnement");
  BOOST_TEST(has(eco, "L'écologie au conseil municipal"));
  const auto mine = titles("/api/localtis/articles?theme=finances-locales");
  BOOST_TEST(has(mine, "Budget < prévu"));
  BOOST_TEST(titles("/api/localtis/articles?q=de%20la%20le").empty());
  BOOST_TEST(titles("/api/localtis/articles?q=ec").empty());  // under three letters
}

// A word in more articles than are ranked (2,000): the newest matches come, in date order.
BOOST_FIXTURE_TEST_CASE(a_very_broad_query_gives_the_newest_matches, Localtis) {
  // 2,100 articles over three feeds (1,000 items per feed at most); the newest have long
  // titles, so that ranking by relevance would put them last.
  for (const auto& [file, feed, first] : {std::tuple{"rss2.xml", "finances", 0},
                                          {"atom.xml", "actu", 700},
                                          {"rdf.xml", "social", 1400}}) {
    std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>)"
                      "<title>Budgets</title><link>https://b.example.fr/</link>";
    for (int i = first; i < first + 700; ++i)
      xml += "<item><title>Budget numéro " + std::to_string(i) +
             (i % 28 == 27 ? " avec des annexes, des tableaux, des graphiques et des notes" : "") +
             "</title><link>https://b.example.fr/" + std::to_string(i) + "</link><pubDate>" +
             std::to_string(1 + i % 28) + " Jun 2025 10:00:00 GMT</pubDate></item>";
    dir.write(file, xml + "</channel></rss>");
    BOOST_TEST(refresh(feed).at("last_status").as_string() == "ok");
  }
  const Response r = call("GET", "/api/localtis/articles?q=budget&limit=5");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  const auto articles = json(r).at("articles").as_array();
  BOOST_TEST_REQUIRE(articles.size() == 5u);
  for (const auto& a : articles)
    BOOST_TEST(a.at("published_at").as_string() == "2025-06-28T10:00:00Z");
}

// A feed keeps its newest `keep` articles; older ones go.
BOOST_AUTO_TEST_CASE(a_feed_keeps_its_newest_articles) {
  AppFixture app;
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>)"
                    "<title>Retenue</title><link>https://r.example.fr/</link>";
  for (int i = 1; i <= 150; ++i)
    xml += "<item><title>Subvention " + std::to_string(i) + "</title><link>https://r.example.fr/" +
           std::to_string(i) + "</link><pubDate>02 Jun 2025 " + std::to_string(10 + i / 60) + ":" +
           (i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + ":00 GMT</pubDate></item>";
  app.dir.write("many.xml", xml + "</channel></rss>");
  app.dir.write("feeds.yaml", "feeds:\n  - {id: many, file: many.xml, theme: t, keep: 100}\n");
  app.start("  - name: localtis\n    library: " + module("localtis") +
            "\n    config:\n      feeds_file: " + app.dir.path() +
            "/feeds.yaml\n      poll: false\n");
  app.identity = make_identity({"operator"});
  BOOST_TEST_REQUIRE(app.call("POST", "/api/localtis/feeds/many/refresh").status == 200);
  const auto feeds = AppFixture::json(app.call("GET", "/api/localtis/feeds"));
  BOOST_TEST(feeds.at("feeds").at(0).at("articles").as_int64() == 100);
  // A search sees the 100 kept, in two pages.
  const auto found =
      AppFixture::json(app.call("GET", "/api/localtis/articles?q=subvention&limit=50"));
  BOOST_TEST(found.at("articles").as_array().size() == 50u);
  auto page =
      AppFixture::json(app.call("GET", "/api/localtis/articles?q=subvention&limit=50&cursor=50"));
  BOOST_TEST(page.at("articles").as_array().size() == 50u);
  BOOST_TEST(page.at("next_cursor").is_null());
  const auto bad =
      app.dir.write("bad.yaml", "feeds:\n  - {id: x, file: a.xml, theme: t, keep: 5}\n");
  BOOST_CHECK_EXCEPTION(passerelle::plugins::localtis::load_feeds(bad), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find("keep: from 100") != std::string::npos;
                        });
}

// A word found in more articles than a search ranks (2,000) gets the newest 2,000 of them
// (by arrival), the caller's region first; the filters apply before that cut, so a filtered
// query finds older matches too. A narrower query is ranked by relevance.
BOOST_AUTO_TEST_CASE(a_broad_query_gives_the_newest_matches_region_first) {
  AppFixture app;
  const auto feed = [&](const std::string& name, int count, int hour) {
    std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>)"
                      "<title>" +
                      name + "</title><link>https://b.example.fr/</link>";
    for (int i = 0; i < count; ++i)
      xml += "<item><title>Subvention " + name + " " + std::to_string(i) +
             "</title><link>https://b.example.fr/" + name + "/" + std::to_string(i) +
             "</link><description>" +
             (i == 7   ? "Chaussée, chaussée et chaussée."
              : i == 8 ? "Chaussée."
                       : "Voirie.") +
             "</description><pubDate>0" + std::to_string(1 + i % 9) + " Jun 2025 " +
             std::to_string(hour) + ":00:00 GMT</pubDate></item>";
    app.dir.write(name + ".xml", xml + "</channel></rss>");
  };
  feed("ancienne", 100, 9);  // Pays de la Loire (52), in first
  feed("nationale", 1000, 10);
  feed("autre", 1000, 11);
  feed("nouvelle", 100, 8);  // Pays de la Loire too, in last
  app.dir.write("feeds.yaml",
                "feeds:\n  - {id: ancienne, file: ancienne.xml, theme: vieux, region: \"52\"}\n"
                "  - {id: nationale, file: nationale.xml, theme: t}\n"
                "  - {id: autre, file: autre.xml, theme: t, region: \"11\"}\n"
                "  - {id: nouvelle, file: nouvelle.xml, theme: t, region: \"52\"}\n");
  app.start("  - name: localtis\n    library: " + module("localtis") +
            "\n    config:\n      feeds_file: " + app.dir.path() +
            "/feeds.yaml\n      poll: false\n");
  app.identity = make_identity({"operator"});  // of Angers: region 52
  for (const char* f : {"ancienne", "nationale", "autre", "nouvelle"})
    BOOST_TEST_REQUIRE(
        app.call("POST", std::string("/api/localtis/feeds/") + f + "/refresh").status == 200);
  const auto titles = [&](const std::string& target) {
    std::vector<std::string> out;
    const auto answer = AppFixture::json(app.call("GET", target));
    for (const auto& a : answer.at("articles").as_array())
      out.emplace_back(a.at("title").as_string());
    return out;
  };
  const auto starts = [](const std::vector<std::string>& list, const std::string& prefix) {
    return !list.empty() && std::all_of(list.begin(), list.end(), [&](const std::string& t) {
      return t.rfind(prefix, 0) == 0;
    });
  };
  // 2,200 articles say "subvention": the newest 2,000 to arrive hold the region's newer feed,
  // which comes first.
  BOOST_TEST(starts(titles("/api/localtis/articles?q=subvention"), "Subvention nouvelle"));
  // Filtered: the older ones, outside the newest 2,000, are found.
  const auto old = titles("/api/localtis/articles?q=subvention&theme=vieux");
  BOOST_TEST(old.size() == 20u);
  BOOST_TEST(starts(old, "Subvention ancienne"));
  BOOST_TEST(titles("/api/localtis/articles?q=subvention&region=52&limit=50&cursor=150").size() ==
             50u);  // 200 of region 52
  BOOST_TEST(titles("/api/localtis/articles?q=subvention&theme=inconnu").empty());
  BOOST_TEST(app.call("GET", "/api/localtis/articles?q=subvention&region=x1").status == 400);
  // Fewer matches are ranked: "chaussée" three times in an article of another region comes
  // before the same word once (the region's bonus is not all).
  const auto ranked = titles("/api/localtis/articles?q=subvention+chaussee+autre");
  BOOST_TEST_REQUIRE(ranked.size() == 2u);
  BOOST_TEST(ranked.at(0) == "Subvention autre 7");
  BOOST_TEST(ranked.at(1) == "Subvention autre 8");
}

// A date more than a day ahead is no date (first seen): it cannot hold the top of the lists.
BOOST_AUTO_TEST_CASE(a_date_in_the_future_is_taken_as_no_date) {
  AppFixture app;
  app.dir.write("futur.xml",
                R"(<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>)"
                "<title>F</title><link>https://f.example.fr/</link>"
                "<item><title>Toujours en tête</title><link>https://f.example.fr/1</link>"
                "<pubDate>Mon, 01 Jan 2200 00:00:00 GMT</pubDate></item>"
                "<item><title>Du jour</title><link>https://f.example.fr/2</link>"
                "<pubDate>Mon, 02 Jun 2025 08:00:00 GMT</pubDate></item>"
                "</channel></rss>");
  app.dir.write("feeds.yaml",
                "feeds:\n  - {id: futur, file: futur.xml, theme: t}\n"
                "  - {id: zero, file: /dev/zero, theme: t}\n");
  app.start("  - name: localtis\n    library: " + module("localtis") +
            "\n    config:\n      feeds_file: " + app.dir.path() +
            "/feeds.yaml\n      poll: false\n");
  app.identity = make_identity({"operator"});
  BOOST_TEST_REQUIRE(app.call("POST", "/api/localtis/feeds/futur/refresh").status == 200);
  const auto list = AppFixture::json(app.call("GET", "/api/localtis/articles"));
  for (const auto& a : list.at("articles").as_array())
    BOOST_TEST(a.at("published_at").as_string() < "2200", a);
  // A file feed must be a regular file: a device (endless) is refused at once.
  const auto zero = AppFixture::json(app.call("POST", "/api/localtis/feeds/zero/refresh"));
  BOOST_TEST(zero.at("last_status").as_string() == "error");
  BOOST_TEST(std::string(zero.at("last_error").as_string()).find("not a regular file") !=
                 std::string::npos,
             zero);
}

// A feed's address is https://; http:// only when the feeds file says it knowingly, and the
// error names where the address is written.
BOOST_AUTO_TEST_CASE(plain_http_feeds_are_refused_unless_accepted) {
  TempDir dir;
  const auto plain = dir.write("plain.yaml",
                               "feeds:\n  - id: x\n    url: http://feeds.example.fr/rss\n"
                               "    theme: t\n");
  BOOST_CHECK_EXCEPTION(passerelle::plugins::localtis::load_feeds(plain), std::runtime_error,
                        [](const std::runtime_error& e) {
                          const std::string what = e.what();
                          return what.find("plain.yaml:3:10: url: http://") != std::string::npos;
                        });
  const auto accepted = dir.write("accepted.yaml",
                                  "feeds:\n  - {id: x, url: \"http://feeds.example.fr/rss\","
                                  " plain_http: true, theme: t}\n");
  BOOST_TEST(passerelle::plugins::localtis::load_feeds(accepted).at(0).plain_http);
  const auto https = dir.write("https.yaml",
                               "feeds:\n  - {id: x, url: \"https://feeds.example.fr/rss\","
                               " theme: t}\n");
  BOOST_TEST(!passerelle::plugins::localtis::load_feeds(https).at(0).plain_http);
}

BOOST_FIXTURE_TEST_CASE(routes_and_roles, Localtis) {
  refresh_all();
  identity = make_identity({"elu"});
  BOOST_TEST(call("GET", "/api/localtis/articles").status == 200);
  BOOST_TEST(call("GET", "/api/localtis/feeds").status == 403);
  BOOST_TEST(call("POST", "/api/localtis/feeds/finances/refresh").status == 403);
  identity.reset();
  BOOST_TEST(call("GET", "/api/localtis/articles").status == 401);
  // The widget: the latest of the user's region and the national ones.
  auto plugin = host.table()->plugins.at(0);
  auto widget = run(plugin->plugin().widget(make_identity({"elu"})));
  BOOST_TEST_REQUIRE(widget.has_value());
  const auto articles = widget->at("articles").as_array();
  BOOST_TEST(articles.size() == 5u);
  BOOST_TEST(articles.at(0).at("title").as_string() == "Ecologie et budget");  // the latest
}

BOOST_AUTO_TEST_SUITE_END()
