// Attachments through the real binary: the conseils plugin's upload route, over TLS. The
// gateway streams each file to disk, types it from its content (libmagic), has clamd scan it
// (a stand-in speaking INSTREAM on loopback), keeps it under its SHA-256, and serves it back
// as a download to whoever may read the request. Whatever it refuses or loses halfway leaves
// nothing on disk nor in the store.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <thread>

using namespace passerelle::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kBoundary = "----passerelle-test-7d3f";

// A small PDF, as libmagic knows one: "%PDF-" then anything.
std::string pdf(std::size_t size, char fill = 'x') {
  std::string s = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj << /Type /Catalog >> endobj\n";
  s.resize(std::max(size, s.size()), fill);
  return s;
}

struct Part {
  std::string name;
  std::string filename;  // empty: a text field
  std::string content;
};

std::string form(const std::vector<Part>& parts, const std::string& boundary = kBoundary) {
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty())
      body += "; filename=\"" + p.filename + "\"\r\nContent-Type: application/octet-stream";
    body += "\r\n\r\n" + p.content + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

std::vector<std::pair<std::string, std::string>> upload_headers(
    const Session& s, const std::string& boundary = kBoundary) {
  return {{"Cookie", s.cookie},
          {"Origin", s.origin},
          {"X-CSRF-Token", s.csrf},
          {"Content-Type", "multipart/form-data; boundary=" + boundary}};
}

// The files the gateway keeps: contents (under their hash) and uploads under way (tmp/).
struct OnDisk {
  std::size_t contents = 0;
  std::size_t temporary = 0;
};
OnDisk on_disk(const std::string& dir) {
  OnDisk d;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::end(it); it.increment(ec))
    if (it->is_regular_file())
      ++(it->path().parent_path().filename() == "tmp" ? d.temporary : d.contents);
  return d;
}

struct Gateway {
  TempDir dir;
  std::string store = fixture_store(dir);
  std::string attachments = dir.path() + "/attachments";
  std::unique_ptr<GatewayProcess> gw;
  Session agent, advisor, other;
  std::string request_id;

  // 256 KiB per upload and 600,000 bytes per request unless said.
  explicit Gateway(const std::string& attachments_yaml = "", std::int64_t max_bytes = 262144,
                   std::int64_t quota = 600000) {
    const std::string source = PASSERELLE_SOURCE_DIR;
    gw = std::make_unique<GatewayProcess>(
        "demo: true\nstore:\n  sqlite: " + store +
        "\nattachments:\n  max_bytes: " + std::to_string(max_bytes) + "\n" + attachments_yaml +
        "plugins:\n  - name: conseils\n    library: " + module("conseils") +
        "\n    config:\n      settings_file: " + source +
        "/config/conseils.yaml\n      attachment_quota: " + std::to_string(quota) + "\n");
    BOOST_REQUIRE_MESSAGE(gw->wait_for_log("\"msg\":\"ready\""), gw->log());
    agent = login(*gw, "agent.tuffalun", "passerelle-demo");
    advisor = login(*gw, "conseiller.demo", "passerelle-demo");
    other = login(*gw, "elu.angers", "passerelle-demo");
    TestConnection c(gw->https_port());
    auto r = c.request(
        "POST", "/api/conseils/requests",
        R"({"subject":"Bail commercial","question":"Le bail joint est-il valable ?","theme":"juridique"})",
        agent.write_headers());
    BOOST_REQUIRE(r.has_value());
    BOOST_REQUIRE_MESSAGE(r->status == 201, r->body);
    request_id = std::string(boost::json::parse(r->body).at("id").as_string());
  }

  std::string upload_path() const {
    return "/api/conseils/requests/" + request_id + "/attachments";
  }
  std::optional<HttpReply> upload(const Session& who, const std::string& body,
                                  const std::string& boundary = kBoundary) {
    TestConnection c(gw->https_port());
    auto r = c.request("POST", upload_path(), body, upload_headers(who, boundary));
    BOOST_REQUIRE_MESSAGE(r.has_value(), gw->log());
    return r;
  }
  std::size_t rows() {
    TestConnection c(gw->https_port());
    auto r =
        c.request("GET", "/api/conseils/requests/" + request_id, "", {{"Cookie", agent.cookie}});
    BOOST_REQUIRE(r && r->status == 200);
    return boost::json::parse(r->body).at("attachments").as_array().size();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(attachments)

BOOST_AUTO_TEST_CASE(a_requester_attaches_a_pdf_and_both_parties_download_it) {
  Gateway g;
  const std::string content = pdf(100'000);
  auto r = g.upload(g.agent, form({{"note", "", "le bail"},
                                   {"file", "C:\\Users\\mairie\\bail \\\"2026\\\".pdf", content}}));
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  const auto files = boost::json::parse(r->body).at("attachments").as_array();
  BOOST_TEST_REQUIRE(files.size() == 1u);
  const auto& file = files[0].as_object();
  BOOST_TEST(file.at("filename").as_string() == "bail 2026.pdf");  // no folder, no quote
  BOOST_TEST(file.at("media_type").as_string() == "application/pdf");
  BOOST_TEST(file.at("size").as_int64() == 100'000);
  const std::string url(file.at("url").as_string());
  for (const Session* who : {&g.agent, &g.advisor}) {
    TestConnection c(g.gw->https_port());
    auto d = c.request("GET", url, "", {{"Cookie", who->cookie}});
    BOOST_TEST_REQUIRE(d->status == 200, d->body);
    BOOST_TEST(d->body == content);
    BOOST_TEST(d->headers["content-type"] == "application/pdf");
    BOOST_TEST(d->headers["x-content-type-options"] == "nosniff");
    // Opened in a tab anyway, it runs nothing: the sandbox's policy, not the portal's.
    BOOST_TEST(d->headers["content-security-policy"] ==
               "sandbox; default-src 'none'; frame-ancestors 'none'");
    BOOST_TEST(d->lines["content-security-policy"] == 1u);
    BOOST_TEST(
        d->headers["content-disposition"].rfind("attachment; filename=\"bail 2026.pdf\"", 0) == 0,
        d->headers["content-disposition"]);
  }
  // Kept once, under its hash; the same content again is one more row, not one more file.
  BOOST_TEST(on_disk(g.attachments).contents == 1u);
  r = g.upload(g.advisor, form({{"file", "copie.pdf", content}}));
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  BOOST_TEST(on_disk(g.attachments).contents == 1u);
  BOOST_TEST(g.rows() == 2u);

  // Another commune's élu: the request and its files do not exist for them; refused before
  // the body is read (the connection then closes).
  r = g.upload(g.other, form({{"file", "x.pdf", pdf(1000)}}));
  BOOST_TEST(r->status == 404, r->body);
  BOOST_TEST(!r->keep_alive);
  TestConnection c(g.gw->https_port());
  auto d = c.request("GET", url, "", {{"Cookie", g.other.cookie}});
  BOOST_TEST(d->status == 404);
  // A file id of this request under another request id, or a made-up one: 404.
  d = c.request("GET",
                "/api/conseils/requests/" + g.request_id + "/attachments/AAAAAAAAAAAAAAAAAAAAAA",
                "", {{"Cookie", g.agent.cookie}});
  BOOST_TEST(d->status == 404);
  BOOST_TEST(on_disk(g.attachments).contents == 1u);
  BOOST_TEST(on_disk(g.attachments).temporary == 0u);
}

BOOST_AUTO_TEST_CASE(refused_uploads_leave_nothing_behind) {
  Gateway g;
  const auto nothing_kept = [&] {
    const OnDisk d = on_disk(g.attachments);
    BOOST_TEST(d.contents == 0u);
    BOOST_TEST(d.temporary == 0u);
    BOOST_TEST(g.rows() == 0u);
  };
  // The type is read from the content, not the name.
  auto r = g.upload(g.agent, form({{"file", "rapport.pdf", "#!/bin/sh\necho pwned\n"}}));
  BOOST_TEST(r->status == 415, r->body);
  BOOST_TEST(r->body.find("text/x-shellscript") != std::string::npos, r->body);
  // Over the size limit (256 KiB in this config): 413, whatever the declared length.
  r = g.upload(g.agent, form({{"file", "gros.pdf", pdf(300'000)}}));
  BOOST_TEST(r->status == 413, r->body);
  // A good file and a bad one in one upload: neither is kept.
  r = g.upload(g.agent, form({{"a", "ok.pdf", pdf(1000)}, {"b", "ko.pdf", "MZ\x90"}}));
  BOOST_TEST(r->status == 415, r->body);
  // Hostile forms.
  r = g.upload(g.agent, form({{"file", "a.pdf", pdf(1000)}}), "");
  BOOST_TEST(r->status == 400, r->body);  // no boundary
  std::string nested =
      "--" + kBoundary +
      "\r\nContent-Disposition: form-data; name=\"f\"\r\nContent-Type: "
      "multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--\r\n--" +
      kBoundary + "--\r\n";
  r = g.upload(g.agent, nested);
  BOOST_TEST(r->status == 400, r->body);
  std::vector<Part> many;
  for (int i = 0; i < 10'000; ++i) many.push_back({"f" + std::to_string(i), "", "x"});
  r = g.upload(g.agent, form(many));
  BOOST_TEST(r->status == 413, r->body);
  std::string huge_head = "--" + kBoundary +
                          "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.pdf\"\r\n"
                          "X-Padding: " +
                          std::string(20'000, 'a') + "\r\n\r\n" + pdf(100) + "\r\n--" + kBoundary +
                          "--\r\n";
  r = g.upload(g.agent, huge_head);
  BOOST_TEST(r->status == 400, r->body);
  r = g.upload(g.agent, form({{"file", "a.pdf", pdf(1000)}}).substr(0, 600));  // no closing
  BOOST_TEST(r->status == 400, r->body);
  // Not logged in: refused before the body is read, and the connection closes.
  {
    TestConnection c(g.gw->https_port());
    auto a = c.request("POST", g.upload_path(), form({{"file", "a.pdf", pdf(1000)}}),
                       {{"Content-Type", "multipart/form-data; boundary=" + kBoundary}});
    BOOST_TEST(a->status == 401);
    BOOST_TEST(!a->keep_alive);
  }
  // JSON to the upload route: 415.
  {
    TestConnection c(g.gw->https_port());
    auto a = c.request("POST", g.upload_path(), "{}", g.agent.write_headers());
    BOOST_TEST(a->status == 415, a->body);
  }
  nothing_kept();

  // Interrupted: half the body, then the client goes.
  {
    TestConnection c(g.gw->https_port());
    const std::string body = form({{"file", "a.pdf", pdf(200'000)}});
    std::string head = "POST " + g.upload_path() +
                       " HTTP/1.1\r\nHost: localhost:" + std::to_string(g.gw->https_port()) +
                       "\r\n";
    for (const auto& [k, v] : upload_headers(g.agent)) head += k + ": " + v + "\r\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    BOOST_TEST_REQUIRE(c.send_raw(head + body.substr(0, 100'000)));
    // The gateway has the first half on disk by now.
    for (int i = 0; i < 100 && on_disk(g.attachments).temporary == 0; ++i)
      std::this_thread::sleep_for(20ms);
    BOOST_TEST(on_disk(g.attachments).temporary == 1u);
  }
  for (int i = 0; i < 200 && on_disk(g.attachments).temporary > 0; ++i)
    std::this_thread::sleep_for(20ms);
  nothing_kept();
}

BOOST_AUTO_TEST_CASE(an_upload_may_be_larger_than_other_bodies) {
  // 3 MiB per upload; any other body stays within server.limits.body_bytes (1 MiB).
  Gateway g("", 3 << 20, 10 << 20);
  const std::string content = pdf(2 << 20);
  auto r = g.upload(g.agent, form({{"file", "plan.pdf", content}}));
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  // Declared over the upload's limit: refused before anything is read, whoever asks.
  TestConnection c(g.gw->https_port());
  auto big = c.request("POST", g.upload_path(), form({{"file", "a.pdf", pdf(4 << 20)}}),
                       {{"Content-Type", "multipart/form-data; boundary=" + kBoundary}});
  BOOST_TEST(big->status == 413, big->body);
  TestConnection d(g.gw->https_port());
  auto json = d.request("POST", "/api/conseils/requests", std::string(2 << 20, ' '),
                        g.agent.write_headers());
  BOOST_TEST(json->status == 413, json->body);
  BOOST_TEST(on_disk(g.attachments).contents == 1u);
}

BOOST_AUTO_TEST_CASE(the_quota_of_a_request_holds) {
  Gateway g;
  // 600,000 bytes per request in this config: two of 250,000 fit, the third does not.
  for (char fill : {'a', 'b'}) {
    auto r = g.upload(g.agent, form({{"file", "p.pdf", pdf(250'000, fill)}}));
    BOOST_TEST_REQUIRE(r->status == 201, r->body);
  }
  auto r = g.upload(g.agent, form({{"file", "p.pdf", pdf(250'000, 'c')}}));
  BOOST_TEST(r->status == 413, r->body);
  BOOST_TEST(r->body.find("quota_exceeded") != std::string::npos, r->body);
  BOOST_TEST(g.rows() == 2u);
  BOOST_TEST(on_disk(g.attachments).contents == 2u);
  // 100,000 bytes still fit; then the request is full: refused before the body is read.
  r = g.upload(g.agent, form({{"file", "p.pdf", pdf(100'000, 'd')}}));
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  r = g.upload(g.agent, form({{"file", "p.pdf", pdf(10, 'e')}}));
  BOOST_TEST(r->status == 413, r->body);
  BOOST_TEST(!r->keep_alive);
  BOOST_TEST(g.rows() == 3u);
  BOOST_TEST(on_disk(g.attachments).contents == 3u);
  BOOST_TEST(on_disk(g.attachments).temporary == 0u);
}

BOOST_AUTO_TEST_CASE(clamd_scans_each_file_and_an_infected_one_is_refused) {
  if (access("/usr/bin/python3", X_OK) != 0) {
    BOOST_TEST_MESSAGE("*** no python3: this test is SKIPPED ***");
    return;
  }
  const std::uint16_t port = free_port();
  ChildProcess clamd({"/usr/bin/python3", "-u",
                      std::string(PASSERELLE_SOURCE_DIR) + "/tests/support/fake_clamd.py",
                      std::to_string(port)});
  BOOST_REQUIRE(clamd.wait_until(
      [](const std::string& o) { return o.find("listening") != std::string::npos; }, 10s));
  Gateway g("  clamd: 127.0.0.1:" + std::to_string(port) + "\n");
  auto r = g.upload(g.agent, form({{"file", "sain.pdf", pdf(5000)}}));
  BOOST_TEST(r->status == 201, r->body);
  r = g.upload(g.agent,
               form({{"file", "piege.pdf",
                      pdf(100) + "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
                                 "$H+H*"}}));
  BOOST_TEST(r->status == 422, r->body);
  BOOST_TEST(r->body.find("Eicar-Test-Signature") != std::string::npos, r->body);
  // Its output is read as it comes: waited for, not taken as it stands.
  BOOST_TEST(clamd.wait_until(
                 [](const std::string& o) { return o.find("FOUND") != std::string::npos; }, 5s),
             clamd.output());
  BOOST_TEST(g.rows() == 1u);
  BOOST_TEST(on_disk(g.attachments).contents == 1u);
  BOOST_TEST(on_disk(g.attachments).temporary == 0u);
}

BOOST_AUTO_TEST_CASE(a_file_that_cannot_be_scanned_is_not_accepted) {
  Gateway g("  clamd: 127.0.0.1:" + std::to_string(free_port()) + "\n  clamd_timeout: 2s\n");
  auto r = g.upload(g.agent, form({{"file", "sain.pdf", pdf(5000)}}));
  BOOST_TEST(r->status == 503, r->body);
  BOOST_TEST(g.rows() == 0u);
  BOOST_TEST(on_disk(g.attachments).contents == 0u);
}

BOOST_AUTO_TEST_CASE(a_financing_request_takes_documents_for_its_parties_only) {
  // The offers plugin's upload route: the same service, another plugin's files.
  TempDir dir;
  const std::string source = PASSERELLE_SOURCE_DIR;
  GatewayProcess gw(
      "demo: true\nstore:\n  sqlite: " + fixture_store(dir) +
      "\nplugins:\n  - name: directorates\n    library: " + module("directorates") +
      "\n    config:\n      data_file: " + source +
      "/tests/fixtures/directorates/directorates.yaml\n  - name: offers\n    library: " +
      module("offers") + "\n    config:\n      catalogue_file: " + source +
      "/config/offers.yaml\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session agent = login(gw, "agent.tuffalun", "passerelle-demo");
  const Session advisor = login(gw, "conseiller.demo", "passerelle-demo");
  const Session other = login(gw, "elu.angers", "passerelle-demo");
  TestConnection c(gw.https_port());
  auto r = c.request("POST", "/api/offers/edu-pret/interest", "{}", agent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  const std::string lead(boost::json::parse(r->body).at("id").as_string());
  r = c.request("POST", "/api/offers/leads/" + lead + "/request", "", agent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  const std::string at =
      "/api/offers/requests/" + std::string(boost::json::parse(r->body).at("id").as_string());
  const std::string content = pdf(20'000);
  TestConnection up(gw.https_port());
  r = up.request("POST", at + "/documents", form({{"file", "devis.pdf", content}}),
                 upload_headers(agent));
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  const auto docs = boost::json::parse(r->body).at("documents").as_array();
  BOOST_TEST_REQUIRE(docs.size() == 1u);
  const std::string url(docs[0].at("url").as_string());
  // Sent to the bank, the advisor reads it and its documents.
  r = c.request("PUT", at, R"({"project":"École","amount_eur":100000,"duration_years":20})",
                agent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  r = c.request("POST", at + "/submit", "", agent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  TestConnection d(gw.https_port());
  auto got = d.request("GET", url, "", {{"Cookie", advisor.cookie}});
  BOOST_TEST(got->status == 200);
  BOOST_TEST(got->body == content);
  got = d.request("GET", url, "", {{"Cookie", other.cookie}});
  BOOST_TEST(got->status == 404);
  TestConnection o(gw.https_port());
  r = o.request("POST", at + "/documents", form({{"file", "x.pdf", pdf(100)}}),
                upload_headers(other));
  BOOST_TEST(r->status == 404);
  BOOST_TEST(!r->keep_alive);  // refused before the body was read
}

BOOST_AUTO_TEST_SUITE_END()
