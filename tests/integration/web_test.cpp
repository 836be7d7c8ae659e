// The portal as a browser meets it, through the real binary over TLS: types, caching rules,
// ETag and 304, precompressed codings, HEAD, paths that must not reach a file, the pages, the
// strict CSP, SIGHUP reload, /auth/providers, and a gateway without a web app.
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>

using namespace passerelle::test;
namespace fs = std::filesystem;

namespace {

const std::string kIndex = "<!doctype html><html lang=\"fr\"><title>Portail</title></html>";
const std::string kJs = "console.log('portail');";
const std::string kJsGzip = "GZIP-BYTES";  // the server never decompresses: any bytes will do
const std::string kJsBrotli = "BROTLI-BYTES-LONGER";
const std::string kPageCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

// A built app in a folder of its own, with a link out of it and a subfolder.
struct WebRoot {
  TempDir dir;
  std::string root = dir.path() + "/dist";
  WebRoot() {
    fs::create_directories(root + "/assets/icons");
    dir.write("dist/index.html", kIndex);
    dir.write("dist/assets/app-1a2b3c4d.js", kJs);
    dir.write("dist/assets/app-1a2b3c4d.js.gz", kJsGzip);
    dir.write("dist/assets/app-1a2b3c4d.js.br", kJsBrotli);
    dir.write("dist/assets/app-5XKQ2ZBM.css", "body{margin:0}");
    dir.write("dist/assets/logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    dir.write("dist/assets/icons/arrow.svg", "<svg/>");
    dir.write("dist/assets/font-0123abcd.woff2", std::string("wOF2\0\1", 6));
    dir.write("secret.txt", "outside the web root");
    fs::create_symlink(dir.path() + "/secret.txt", root + "/assets/escape.txt");
  }
  std::string yaml() const { return "web:\n  root: " + root + "\n"; }
};

HttpReply get(TestConnection& c, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  auto r = c.request("GET", target, "", headers);
  BOOST_TEST_REQUIRE(r.has_value());
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(web)

BOOST_AUTO_TEST_CASE(types_and_caching_rules) {
  WebRoot site;
  GatewayProcess gw(site.yaml());
  TestConnection c(gw.https_port());
  auto r = get(c, "/assets/app-1a2b3c4d.js");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == kJs);
  BOOST_TEST(r.headers["content-type"] == "text/javascript; charset=utf-8");
  BOOST_TEST(r.headers["cache-control"] == "public, max-age=31536000, immutable");
  BOOST_TEST(r.headers["vary"] == "Accept-Encoding");
  BOOST_TEST(r.headers.count("content-encoding") == 0u);
  BOOST_TEST(r.headers["x-content-type-options"] == "nosniff");

  r = get(c, "/assets/app-5XKQ2ZBM.css");
  BOOST_TEST(r.headers["content-type"] == "text/css; charset=utf-8");
  BOOST_TEST(r.headers["cache-control"] == "public, max-age=31536000, immutable");
  BOOST_TEST(r.headers.count("vary") == 0u);

  r = get(c, "/assets/font-0123abcd.woff2");
  BOOST_TEST(r.headers["content-type"] == "font/woff2");
  BOOST_TEST(r.body.size() == 6u);

  r = get(c, "/assets/logo.svg");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.headers["content-type"] == "image/svg+xml");
  BOOST_TEST(r.headers["cache-control"] == "no-cache");
  BOOST_TEST(!r.headers["etag"].empty());

  r = get(c, "/assets/icons/arrow.svg");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "<svg/>");

  r = get(c, "/");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == kIndex);
  BOOST_TEST(r.headers["content-type"] == "text/html; charset=utf-8");
  BOOST_TEST(r.headers["cache-control"] == "no-cache");
  BOOST_TEST(r.headers["content-security-policy"] == kPageCsp);
  BOOST_TEST(r.headers["x-content-type-options"] == "nosniff");
  BOOST_TEST(r.headers["x-frame-options"] == "DENY");
}

BOOST_AUTO_TEST_CASE(etag_and_not_modified) {
  WebRoot site;
  GatewayProcess gw(site.yaml());
  TestConnection c(gw.https_port());
  const auto first = get(c, "/");
  const std::string etag = first.headers.at("etag");
  BOOST_TEST(etag.size() > 2u);
  BOOST_TEST(etag.front() == '"');
  BOOST_TEST(etag.back() == '"');

  auto r = get(c, "/", {{"If-None-Match", etag}});
  BOOST_TEST(r.status == 304);
  BOOST_TEST(r.body.empty());
  BOOST_TEST(r.headers["etag"] == etag);
  BOOST_TEST(r.headers.count("content-length") == 0u);
  r = get(c, "/mon-compte", {{"If-None-Match", "\"other\", W/" + etag}});
  BOOST_TEST(r.status == 304);
  r = get(c, "/", {{"If-None-Match", "\"other\""}});
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == kIndex);
  // The connection still frames responses right after a 304.
  BOOST_TEST(get(c, "/assets/logo.svg").status == 200);

  // One entity tag per coding: a cached plain copy does not validate the brotli one.
  const auto plain = get(c, "/assets/app-1a2b3c4d.js");
  const auto br = get(c, "/assets/app-1a2b3c4d.js", {{"Accept-Encoding", "br"}});
  const auto gz = get(c, "/assets/app-1a2b3c4d.js", {{"Accept-Encoding", "gzip"}});
  BOOST_TEST(plain.headers.at("etag") != br.headers.at("etag"));
  BOOST_TEST(plain.headers.at("etag") != gz.headers.at("etag"));
  BOOST_TEST(gz.headers.at("etag") != br.headers.at("etag"));
  r = get(c, "/assets/app-1a2b3c4d.js",
          {{"Accept-Encoding", "br"}, {"If-None-Match", plain.headers.at("etag")}});
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == kJsBrotli);
  r = get(c, "/assets/app-1a2b3c4d.js",
          {{"Accept-Encoding", "br"}, {"If-None-Match", br.headers.at("etag")}});
  BOOST_TEST(r.status == 304);
  BOOST_TEST(r.headers["content-encoding"] == "br");
  BOOST_TEST(r.headers["vary"] == "Accept-Encoding");
}

BOOST_AUTO_TEST_CASE(accept_encoding_chooses_the_file) {
  WebRoot site;
  GatewayProcess gw(site.yaml());
  TestConnection c(gw.https_port());
  const std::string js = "/assets/app-1a2b3c4d.js";
  struct Case {
    std::string accept;
    std::string body;
    std::string coding;
  };
  const std::vector<Case> cases = {
      {"gzip, deflate, br", kJsBrotli, "br"},
      {"gzip, br;q=0", kJsGzip, "gzip"},
      {"br;q=0, gzip;q=0", kJs, ""},
      {"gzip;q=1, br;q=0.5", kJsGzip, "gzip"},
      {"*", kJsBrotli, "br"},
      {"*;q=0", kJs, ""},
      {"identity", kJs, ""},
      {"br;q=abc", kJs, ""},
      {"deflate", kJs, ""},
  };
  for (const auto& k : cases) {
    auto r = get(c, js, {{"Accept-Encoding", k.accept}});
    BOOST_TEST(r.status == 200, k.accept);
    BOOST_TEST(r.body == k.body, k.accept);
    BOOST_TEST(
        (r.headers.count("content-encoding") ? r.headers["content-encoding"] : "") == k.coding,
        k.accept);
    BOOST_TEST(r.headers["vary"] == "Accept-Encoding", k.accept);
    BOOST_TEST(r.headers["content-type"] == "text/javascript; charset=utf-8", k.accept);
  }
  auto r = get(c, js);  // no Accept-Encoding at all: the plain file
  BOOST_TEST(r.body == kJs);
  BOOST_TEST(r.headers.count("content-encoding") == 0u);
  // A file without compressed siblings is sent plain whatever the client accepts.
  r = get(c, "/", {{"Accept-Encoding", "gzip, br"}});
  BOOST_TEST(r.body == kIndex);
  BOOST_TEST(r.headers.count("content-encoding") == 0u);
}

BOOST_AUTO_TEST_CASE(head_sends_the_headers_only) {
  WebRoot site;
  GatewayProcess gw(site.yaml());
  TestConnection c(gw.https_port());
  BOOST_TEST_REQUIRE(
      c.send_raw("HEAD /assets/app-1a2b3c4d.js HTTP/1.1\r\nHost: localhost\r\n"
                 "Accept-Encoding: br\r\n\r\n"));
  auto r = c.read_reply(true);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->headers["content-length"] == std::to_string(kJsBrotli.size()));
  BOOST_TEST(r->headers["content-encoding"] == "br");
  BOOST_TEST(r->body.empty());
  // Nothing followed the head: the next response on the connection parses as such.
  auto next = get(c, "/connexion");
  BOOST_TEST(next.status == 200);
  BOOST_TEST(next.body == kIndex);
}

BOOST_AUTO_TEST_CASE(paths_that_reach_no_file) {
  WebRoot site;
  GatewayProcess gw(site.yaml());
  TestConnection c(gw.https_port());
  for (const std::string target :
       {"/assets/nope.js", "/assets/icons", "/assets/icons/", "/assets/escape.txt", "/assets/",
        "/assets", "/assets/app-1a2b3c4d.js.gz", "/index.html", "/inconnue", "/api/nope",
        "/assets/a/b/c/d/e/f/g/h/i/j.js"}) {
    auto r = get(c, target);
    BOOST_TEST(r.status == 404, target);
    BOOST_TEST(r.headers["content-type"] == "application/json", target);
    BOOST_TEST(r.body.find("\"code\":\"not_found\"") != std::string::npos, target);
  }
  // Dot segments, plain or encoded, never reach a handler (the dispatcher refuses them).
  for (const std::string target :
       {"/assets/../index.html", "/assets/%2e%2e/index.html", "/assets/%2E%2E/index.html",
        "/assets/..%2findex.html", "/assets/icons/%2e%2e/%2e%2e/index.html",
        "/assets/%2e%2e/%2e%2e/secret.txt", "/assets/icons%5c..%5c..%5cindex.html"}) {
    auto r = get(c, target);
    BOOST_TEST((r.status == 400 || r.status == 404), target << " " << r.status);
    BOOST_TEST(r.headers["content-type"] == "application/json", target);
    BOOST_TEST(r.body.find(kIndex) == std::string::npos, target);
    BOOST_TEST(r.body.find("outside") == std::string::npos, target);
  }
}

BOOST_AUTO_TEST_CASE(pages_answer_the_app) {
  WebRoot site;
  GatewayProcess gw(site.yaml());
  TestConnection c(gw.https_port());
  for (const std::string page : {"/", "/connexion", "/ma-direction", "/mon-compte", "/exploitation",
                                 "/connexion?next=%2Fmon-compte"}) {
    auto r = get(c, page);
    BOOST_TEST(r.status == 200, page);
    BOOST_TEST(r.body == kIndex, page);
    BOOST_TEST(r.headers["content-security-policy"] == kPageCsp, page);
  }
  // The gateway's own routes still answer as before.
  BOOST_TEST(get(c, "/healthz").status == 200);
  BOOST_TEST(get(c, "/api/me").status == 401);
}

BOOST_AUTO_TEST_CASE(configured_pages_only) {
  WebRoot site;
  GatewayProcess gw(site.yaml() + "  pages: [/, /accueil]\n");
  TestConnection c(gw.https_port());
  BOOST_TEST(get(c, "/accueil").body == kIndex);
  BOOST_TEST(get(c, "/connexion").status == 404);
}

BOOST_AUTO_TEST_CASE(login_goes_to_the_portal_page_when_it_is_served) {
  {
    WebRoot site;
    GatewayProcess gw(site.yaml());
    TestConnection c(gw.https_port());
    auto r = get(c, "/auth/login?next=%2Fmon-compte%3Fa%3D1%26b%3D2");
    BOOST_TEST(r.status == 302);
    BOOST_TEST(r.headers["location"] == "/connexion?next=%2Fmon-compte%3Fa%3D1%26b%3D2");
    // An unsafe next is still refused: the portal gets the home page instead.
    for (const std::string next : {"%2F%2Fevil.example", "https%3A%2F%2Fevil.example", ""}) {
      r = get(c, "/auth/login?next=" + next);
      BOOST_TEST(r.status == 302, next);
      BOOST_TEST(r.headers["location"] == "/connexion?next=%2F", next);
    }
  }
  {
    // Served, but without /connexion among its pages: the gateway's own form.
    WebRoot site;
    GatewayProcess gw(site.yaml() + "  pages: [/, /accueil]\n");
    TestConnection c(gw.https_port());
    auto r = get(c, "/auth/login?next=%2Faccueil");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body.find("<form method=\"post\" action=\"/auth/login\">") != std::string::npos);
  }
  // No web app at all: the form too.
  TempDir empty;
  GatewayProcess gw("web:\n  root: " + empty.path() + "/missing\n");
  TestConnection c(gw.https_port());
  auto r = get(c, "/auth/login?next=%2Fmon-compte");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.find("value=\"/mon-compte\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sighup_reloads_the_files) {
  WebRoot site;
  GatewayProcess gw(site.yaml());
  BOOST_TEST_REQUIRE(gw.wait_for_log("\"msg\":\"portal loaded\""));
  TestConnection c(gw.https_port());
  const auto before = get(c, "/");
  site.dir.write("dist/index.html", "<!doctype html><title>v2</title>");
  site.dir.write("dist/assets/app-9f8e7d6c.js", "v2");
  ::kill(gw.pid(), SIGHUP);
  // 6 files at first (a file and its compressed siblings count once), 7 once reloaded.
  BOOST_TEST_REQUIRE(gw.wait_for_log("\"files\":7"));
  auto r = get(c, "/");
  BOOST_TEST(r.body == "<!doctype html><title>v2</title>");
  BOOST_TEST(r.headers["etag"] != before.headers.at("etag"));
  BOOST_TEST(get(c, "/assets/app-9f8e7d6c.js").body == "v2");
  // A root gone at the next reload keeps the files already served.
  fs::rename(site.root, site.dir.path() + "/moved");
  ::kill(gw.pid(), SIGHUP);
  BOOST_TEST_REQUIRE(gw.wait_for_log("portal reload failed"));
  BOOST_TEST(get(c, "/assets/app-9f8e7d6c.js").body == "v2");
}

BOOST_AUTO_TEST_CASE(no_web_app_still_starts) {
  TempDir empty;
  GatewayProcess gw("web:\n  root: " + empty.path() + "/missing\n");
  BOOST_TEST(gw.wait_for_log("\"msg\":\"portal off"));
  TestConnection c(gw.https_port());
  BOOST_TEST(get(c, "/healthz").status == 200);
  auto r = get(c, "/");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.body.find("\"code\":\"not_found\"") != std::string::npos);
  BOOST_TEST(get(c, "/assets/app-1a2b3c4d.js").status == 404);
}

BOOST_AUTO_TEST_CASE(providers_list_for_the_login_page) {
  {
    GatewayProcess gw;
    TestConnection c(gw.https_port());
    auto r = get(c, "/auth/providers");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == R"({"providers":[]})");
  }
  GatewayProcess gw(
      "auth:\n  oidc:\n    - name: proconnect\n      display_name: ProConnect\n"
      "      issuer: http://127.0.0.1:1\n      client_id: passerelle\n      client_secret: s\n");
  TestConnection c(gw.https_port());
  auto r = get(c, "/auth/providers");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.headers["content-type"] == "application/json");
  BOOST_TEST(r.body == R"({"providers":[{"name":"proconnect","display_name":"ProConnect",)"
                       R"("start":"/auth/oidc/proconnect/start"}]})");
}

BOOST_AUTO_TEST_SUITE_END()
