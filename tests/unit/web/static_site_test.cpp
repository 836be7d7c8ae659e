// The portal's pure rules: Accept-Encoding with q-values, hashed names, types, If-None-Match,
// and what a snapshot keeps (regular files, links inside the root, compressed siblings).
#include "web/static_site.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>

using namespace passerelle;

namespace {
AcceptedCodings accept(const std::string& header) { return parse_accept_encoding(&header); }
}  // namespace

BOOST_AUTO_TEST_SUITE(static_site)

BOOST_AUTO_TEST_CASE(accept_encoding_names_and_weights) {
  BOOST_TEST(parse_accept_encoding(nullptr).gzip == 0);
  BOOST_TEST(parse_accept_encoding(nullptr).brotli == 0);
  auto a = accept("gzip, deflate, br");
  BOOST_TEST(a.gzip == 1000);
  BOOST_TEST(a.brotli == 1000);
  a = accept("GZip;q=0.5 , BR ; Q=0.8");
  BOOST_TEST(a.gzip == 500);
  BOOST_TEST(a.brotli == 800);
  a = accept("x-gzip");
  BOOST_TEST(a.gzip == 1000);
  BOOST_TEST(a.brotli == 0);
  a = accept("identity");
  BOOST_TEST(a.gzip == 0);
  BOOST_TEST(a.brotli == 0);
  a = accept("");
  BOOST_TEST(a.gzip == 0);
}

BOOST_AUTO_TEST_CASE(accept_encoding_zero_and_star) {
  auto a = accept("gzip, br;q=0");
  BOOST_TEST(a.gzip == 1000);
  BOOST_TEST(a.brotli == 0);
  a = accept("br;q=0.000, gzip;q=0.0");
  BOOST_TEST(a.brotli == 0);
  BOOST_TEST(a.gzip == 0);
  a = accept("*");
  BOOST_TEST(a.gzip == 1000);
  BOOST_TEST(a.brotli == 1000);
  a = accept("*;q=0.3, br;q=0");  // a named coding overrides "*"
  BOOST_TEST(a.gzip == 300);
  BOOST_TEST(a.brotli == 0);
  a = accept("*;q=0");
  BOOST_TEST(a.gzip == 0);
  BOOST_TEST(a.brotli == 0);
}

BOOST_AUTO_TEST_CASE(accept_encoding_malformed_q_refuses) {
  BOOST_TEST(accept("br;q=2").brotli == 0);
  BOOST_TEST(accept("br;q=1.5").brotli == 0);
  BOOST_TEST(accept("br;q=0.0001").brotli == 0);
  BOOST_TEST(accept("br;q=abc").brotli == 0);
  BOOST_TEST(accept("br;q=").brotli == 0);
  BOOST_TEST(accept("br;q=1.000").brotli == 1000);
  BOOST_TEST(accept("br;q=0.001").brotli == 1);
  BOOST_TEST(accept("br;level=5").brotli == 1000);  // other parameters are ignored
}

BOOST_AUTO_TEST_CASE(hashed_names) {
  BOOST_TEST(is_hashed_name("assets/app-1a2b3c4d.js"));
  BOOST_TEST(is_hashed_name("app-5XKQ2ZBM.css"));
  BOOST_TEST(is_hashed_name("assets/fonts/marianne-regular-0123456789abcdef.woff2"));
  BOOST_TEST(is_hashed_name("app-5XKQ2ZBM.js.map"));
  BOOST_TEST(is_hashed_name("jquery.min-1a2b3c4d.js"));
  BOOST_TEST(!is_hashed_name("index.html"));
  BOOST_TEST(!is_hashed_name("assets/app.js"));
  BOOST_TEST(!is_hashed_name("arrow-underline.svg"));    // a word, not a hash
  BOOST_TEST(!is_hashed_name("app-1a2b3c4.js"));         // 7 characters
  BOOST_TEST(!is_hashed_name("app-1A2b3C4d.js"));        // mixed case
  BOOST_TEST(!is_hashed_name("app-5XKQ2ZB8.js"));        // 8 is not base32
  BOOST_TEST(!is_hashed_name("a-1a2b3c4d/index.html"));  // the folder does not count
  BOOST_TEST(!is_hashed_name("app-1a2b3c4d-x.js"));      // the last '-' decides
}

BOOST_AUTO_TEST_CASE(content_types) {
  BOOST_TEST(content_type_for("index.html") == "text/html; charset=utf-8");
  BOOST_TEST(content_type_for("assets/a.js") == "text/javascript; charset=utf-8");
  BOOST_TEST(content_type_for("a.CSS") == "text/css; charset=utf-8");
  BOOST_TEST(content_type_for("a.svg") == "image/svg+xml");
  BOOST_TEST(content_type_for("a.png") == "image/png");
  BOOST_TEST(content_type_for("a.woff2") == "font/woff2");
  BOOST_TEST(content_type_for("a.woff") == "font/woff");
  BOOST_TEST(content_type_for("a.json") == "application/json");
  BOOST_TEST(content_type_for("favicon.ico") == "image/x-icon");
  BOOST_TEST(content_type_for("a.js.map") == "application/json");
  BOOST_TEST(content_type_for("robots.txt") == "text/plain; charset=utf-8");
  BOOST_TEST(content_type_for("LICENSE") == "application/octet-stream");
  BOOST_TEST(content_type_for("a.exe") == "application/octet-stream");
}

BOOST_AUTO_TEST_CASE(if_none_match_lists) {
  const std::string tag = "\"abc\"";
  BOOST_TEST(etag_matches("\"abc\"", tag));
  BOOST_TEST(etag_matches("\"x\", W/\"abc\"", tag));
  BOOST_TEST(etag_matches("*", tag));
  BOOST_TEST(!etag_matches("\"abcd\"", tag));
  BOOST_TEST(!etag_matches("abc", tag));
  BOOST_TEST(!etag_matches("", tag));
}

BOOST_AUTO_TEST_CASE(snapshot_keeps_files_inside_the_root) {
  namespace fs = std::filesystem;
  test::TempDir dir;
  const std::string root = dir.path() + "/dist";
  fs::create_directories(root + "/assets/sub");
  dir.write("dist/index.html", "<!doctype html>");
  dir.write("dist/assets/app-1a2b3c4d.js", "js");
  dir.write("dist/assets/app-1a2b3c4d.js.gz", "gz");
  dir.write("dist/assets/app-1a2b3c4d.js.br", "br");
  dir.write("dist/assets/lonely.gz", "orphan");
  dir.write("dist/assets/sub/x.css", "css");
  dir.write("secret.txt", "outside");
  fs::create_symlink(dir.path() + "/secret.txt", root + "/assets/escape.txt");
  fs::create_symlink(root + "/index.html", root + "/assets/alias.html");
  fs::create_directory_symlink(dir.path(), root + "/assets/up");

  std::string problem;
  auto site = StaticSite::load(root, problem);
  BOOST_TEST_REQUIRE(site != nullptr);
  BOOST_TEST(site->find("index.html") != nullptr);
  BOOST_TEST(site->find("assets/sub/x.css") != nullptr);
  BOOST_TEST(site->find("assets/sub") == nullptr);
  BOOST_TEST(site->find("assets/escape.txt") == nullptr);
  BOOST_TEST(site->find("assets/up/secret.txt") == nullptr);
  BOOST_TEST(site->find("assets/alias.html") != nullptr);  // a link inside the root is fine
  BOOST_TEST(site->find("assets/lonely.gz") != nullptr);
  BOOST_TEST(site->find("assets/app-1a2b3c4d.js.gz") == nullptr);  // only as a coding
  const StaticFile* js = site->find("assets/app-1a2b3c4d.js");
  BOOST_TEST_REQUIRE(js != nullptr);
  BOOST_TEST(js->immutable);
  BOOST_TEST(js->identity.bytes == "js");
  BOOST_TEST_REQUIRE(js->gzip.has_value());
  BOOST_TEST(js->gzip->bytes == "gz");
  BOOST_TEST_REQUIRE(js->brotli.has_value());
  BOOST_TEST(js->brotli->etag != js->identity.etag);
  BOOST_TEST(js->gzip->etag != js->brotli->etag);
  BOOST_TEST(js->identity.etag.front() == '"');
  BOOST_TEST(!site->find("index.html")->immutable);
}

BOOST_AUTO_TEST_CASE(missing_root_is_no_site) {
  std::string problem;
  BOOST_TEST(StaticSite::load("/nonexistent/passerelle/web", problem) == nullptr);
  BOOST_TEST(!problem.empty());
}

BOOST_AUTO_TEST_SUITE_END()
