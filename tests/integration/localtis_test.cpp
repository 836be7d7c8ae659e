// The localtis plugin in the real binary, polling feeds from a server on loopback: conditional
// GETs and their 304s, a feed that changes, and feeds that fail in every way a server can (500,
// too slow, a byte at a time, too large, a gzip bomb), each reported as its own failure while
// the others and the gateway go on.
#include "support/demo.hpp"
#include "support/feed_server.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <zlib.h>

#include <atomic>
#include <thread>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

std::string gzip(const std::string& bytes) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string fixture(const std::string& name) {
  return read_text(std::string(PASSERELLE_TEST_FIXTURES) + "/feeds/" + name);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(localtis)

BOOST_AUTO_TEST_CASE(feeds_over_http_and_every_way_they_fail) {
  std::atomic<int> version{1}, conditional{0};
  std::atomic<bool> mended{false};
  const std::string rss = fixture("rss2.xml");
  std::string rss_v2 = rss;
  rss_v2.insert(rss_v2.find("</channel>"),
                "<item><title>Nouvel article</title><link>https://localtis.example.fr/new</link>"
                "<guid>new-1</guid><pubDate>Wed, 04 Jun 2025 09:00:00 +0200</pubDate></item>");
  const std::string bomb = gzip(std::string(50 * 1024 * 1024, ' '));
  FeedServer server([&](const std::string& path, const std::map<std::string, std::string>& h) {
    FeedReply r;
    r.headers = {{"Content-Type", "application/rss+xml; charset=utf-8"}};
    if (path == "/good") {
      const std::string tag = "\"v" + std::to_string(version.load()) + "\"";
      if (auto it = h.find("if-none-match"); it != h.end() && it->second == tag) {
        ++conditional;
        r.status = 304;
        return r;
      }
      r.headers.emplace_back("ETag", tag);
      r.body = version.load() == 1 ? rss : rss_v2;
    } else if (path == "/broken") {
      r.status = 500;
      r.body = "oops";
    } else if (path == "/slow") {
      r.delay = 3s;
      r.body = rss;
    } else if (path == "/drip") {
      r.drip = 100ms;
      r.body = rss;
    } else if (path == "/huge") {
      r.body = std::string(6 * 1024 * 1024, ' ');
    } else if (path == "/gzip") {
      r.headers = {{"Content-Type", "application/atom+xml"}, {"Content-Encoding", "gzip"}};
      r.body = gzip(fixture("atom.xml"));
    } else if (path == "/bomb") {
      r.headers.emplace_back("Content-Encoding", "gzip");
      r.body = bomb;
    } else if (path == "/mended") {
      // A broken body with a validator, then (mended) the same validator answers 304 unless
      // it was kept: it must not have been, so the mended body is fetched whole.
      r.headers.emplace_back("ETag", "\"m1\"");
      if (auto it = h.find("if-none-match"); it != h.end() && it->second == "\"m1\"") {
        r.status = 304;
        return r;
      }
      r.body = mended.load() ? fixture("atom.xml") : std::string("<rss><channel><item>");
    } else {
      r.status = 404;
    }
    return r;
  });
  TempDir dir;
  std::string feeds = "feeds:\n";
  for (const char* id : {"good", "broken", "slow", "drip", "huge", "gzip", "bomb", "mended"})
    feeds += std::string("  - {id: ") + id + ", url: \"" + server.url(std::string("/") + id) +
             "\", plain_http: true, theme: actualites, timeout: 1s}\n";
  const std::string feeds_file = dir.write("feeds.yaml", feeds);
  GatewayProcess gw("demo: true\nplugins:\n  - name: localtis\n    library: " + module("localtis") +
                    "\n    config:\n      feeds_file: " + feeds_file + "\n      poll: false\n");
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  TestConnection c(gw.https_port());
  const auto refresh = [&](const std::string& id) {
    auto r = c.request("POST", "/api/localtis/feeds/" + id + "/refresh", "", op.write_headers());
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST_REQUIRE(r->status == 200, r->body);
    return boost::json::parse(r->body);
  };
  const auto articles = [&] {
    auto r = c.request("GET", "/api/localtis/articles?limit=50", "", {{"Cookie", op.cookie}});
    return boost::json::parse(r->body).at("articles").as_array().size();
  };

  BOOST_TEST(refresh("good").at("last_status").as_string() == "ok");
  BOOST_TEST(articles() == 2u);
  BOOST_TEST(refresh("good").at("last_status").as_string() == "not_modified");
  BOOST_TEST(conditional.load() == 1);
  version = 2;
  BOOST_TEST(refresh("good").at("last_status").as_string() == "ok");
  BOOST_TEST(articles() == 3u);

  const auto failed = [&](const std::string& id, const std::string& why) {
    const auto f = refresh(id);
    BOOST_TEST(f.at("last_status").as_string() == "error", id);
    BOOST_TEST(std::string(f.at("last_error").as_string()).find(why) != std::string::npos,
               id << ": " << f.at("last_error").as_string());
    BOOST_TEST(f.at("failures").as_int64() == 1, id);
  };
  failed("broken", "HTTP 500");
  // While a feed is slow, the gateway answers everyone else.
  std::thread slow([&] { failed("slow", "time"); });
  std::this_thread::sleep_for(200ms);
  TestConnection other(gw.https_port());
  BOOST_TEST(other.request("GET", "/healthz")->status == 200);
  slow.join();
  failed("drip", "time");
  failed("huge", "");
  BOOST_TEST(refresh("gzip").at("last_status").as_string() == "ok");
  BOOST_TEST(articles() == 5u);
  failed("bomb", "once inflated");
  BOOST_TEST(articles() == 5u);
  failed("mended", "not a feed");
  mended = true;
  BOOST_TEST(refresh("mended").at("last_status").as_string() == "ok");
  BOOST_TEST(articles() > 5u);
  BOOST_TEST(c.request("GET", "/readyz")->status == 200);
  BOOST_TEST(gw.log().find("feed broken failed") != std::string::npos);
}

// A refresh cut off by its route's deadline (1 s) while the feed is slow (3 s, within its own
// 10 s): 504 to the operator, and the feed's record is not a failure of the feed.
BOOST_AUTO_TEST_CASE(a_refresh_cut_by_its_deadline_is_no_failure_of_the_feed) {
  FeedServer server([&](const std::string&, const std::map<std::string, std::string>&) {
    FeedReply r;
    r.headers = {{"Content-Type", "application/rss+xml; charset=utf-8"}};
    r.delay = 3s;
    r.body = fixture("rss2.xml");
    return r;
  });
  TempDir dir;
  const std::string feeds_file =
      dir.write("feeds.yaml", "feeds:\n  - {id: slow, url: \"" + server.url("/slow") +
                                  "\", plain_http: true, theme: actualites, timeout: 10s}\n");
  GatewayProcess gw("demo: true\nplugins:\n  - name: localtis\n    library: " + module("localtis") +
                    "\n    route_timeouts:\n      POST /api/localtis/feeds/{id}/refresh: 1s\n"
                    "    config:\n      feeds_file: " +
                    feeds_file + "\n      poll: false\n");
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  TestConnection c(gw.https_port());
  auto r = c.request("POST", "/api/localtis/feeds/slow/refresh", "", op.write_headers());
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 504, r->body);
  std::this_thread::sleep_for(500ms);
  r = c.request("GET", "/api/localtis/feeds", "", {{"Cookie", op.cookie}});
  const auto feed = boost::json::parse(r->body).at("feeds").at(0);
  BOOST_TEST(feed.at("failures").as_int64() == 0, feed);
  BOOST_TEST(feed.at("last_status").as_string() == "never", feed);
  BOOST_TEST(gw.log().find("feed slow failed") == std::string::npos, gw.log());
}

BOOST_AUTO_TEST_SUITE_END()
