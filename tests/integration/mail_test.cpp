// Mail through the real binary: the conseils plugin's outbox sent through the gateway's relay
// (Host::mail, libcurl) to an SMTP server on loopback (Debian's python3-aiosmtpd). The relay
// is down when the request changes: the mail waits in the outbox, is tried again with
// back-off, and arrives once the relay is up. Nothing is lost, and the request was answered at
// once meanwhile.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <vector>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

const char* const kPython = "/usr/bin/python3";

bool have_aiosmtpd() {
  return access(kPython, X_OK) == 0 &&
         std::system("/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null") == 0;
}

// The bodies (base64) of the messages the Debugging handler printed, decoded, in order.
std::vector<std::string> bodies(const std::string& out) {
  std::vector<std::string> found;
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (auto at = out.find("Content-Transfer-Encoding: base64"); at != std::string::npos;
       at = out.find("Content-Transfer-Encoding: base64", at + 1)) {
    const auto start = out.find("\n\n", at);
    const auto end = out.find("END MESSAGE", at);
    if (start == std::string::npos || end == std::string::npos) break;
    std::string decoded;
    unsigned bits = 0, value = 0;
    for (std::size_t i = start; i < end; ++i) {
      const auto v = kAlphabet.find(out[i]);
      if (v == std::string::npos) continue;
      value = (value << 6) | static_cast<unsigned>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        decoded += static_cast<char>((value >> bits) & 0xFF);
      }
    }
    found.push_back(decoded);
  }
  return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mail)

BOOST_AUTO_TEST_CASE(a_relay_down_then_up_loses_no_mail) {
  if (!have_aiosmtpd()) {
    BOOST_TEST_MESSAGE("*** python3-aiosmtpd is not installed here: this test is SKIPPED ***");
    return;
  }
  TempDir dir;
  const std::uint16_t smtp_port = free_port();
  const std::string source = PASSERELLE_SOURCE_DIR;
  GatewayProcess gw("demo: true\nstore:\n  sqlite: " + fixture_store(dir) +
                    "\nmail:\n  relay: smtp://127.0.0.1:" + std::to_string(smtp_port) +
                    "\n  starttls: false\n  from: \"Passerelle <noreply@passerelle.invalid>\"\n"
                    "  timeout: 2s\nplugins:\n  - name: conseils\n    library: " +
                    module("conseils") + "\n    config:\n      settings_file: " + source +
                    "/config/conseils.yaml\n      mail_retry: 1s\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session agent = login(gw, "agent.tuffalun", "passerelle-demo");
  const Session advisor = login(gw, "conseiller.demo", "passerelle-demo");
  TestConnection c(gw.https_port());
  auto r =
      c.request("POST", "/api/conseils/requests",
                R"({"subject":"Délai de recours","question":"Deux mois ?","theme":"juridique"})",
                agent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  const std::string id(boost::json::parse(r->body).at("id").as_string());
  // The advisor takes it: a mail to the agent (after the receipt of the filing). The relay is
  // down; the answers come at once.
  r = c.request("POST", "/api/conseils/requests/" + id + "/assign", "", advisor.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  BOOST_TEST(gw.wait_for_log("outbox: a mail is kept for later (attempt 1"), gw.log());
  // The relay comes up: both arrive, with their headers as the relay must see them.
  ChildProcess smtp({kPython, "-u", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Debugging",
                     "-l", "127.0.0.1:" + std::to_string(smtp_port)});
  const auto messages = [](const std::string& o) {
    std::size_t n = 0;
    for (auto at = o.find("END MESSAGE"); at != std::string::npos;
         at = o.find("END MESSAGE", at + 1))
      ++n;
    return n;
  };
  BOOST_TEST_REQUIRE(smtp.wait_until([&](const std::string& o) { return messages(o) >= 2; }, 20s),
                     smtp.output() + "\n" + gw.log());
  const std::string out = smtp.output();
  BOOST_TEST(out.find("To: agent.tuffalun@demo.passerelle.invalid") != std::string::npos, out);
  BOOST_TEST(out.find("From: \"Passerelle\" <noreply@passerelle.invalid>") != std::string::npos,
             out);
  BOOST_TEST(out.find("Content-Transfer-Encoding: base64") != std::string::npos, out);
  BOOST_TEST(out.find("Subject: =?UTF-8?B?") != std::string::npos, out);  // "déposée"
  BOOST_TEST(out.find("Content-Type: text/plain; charset=UTF-8") != std::string::npos, out);
  // The advisor, who made the change, gets nothing: two messages in all, both to the agent.
  BOOST_TEST(out.find("conseiller@demo") == std::string::npos, out);
  // The advisor answers: the agent is told at once now that the relay is up.
  r = c.request("POST", "/api/conseils/requests/" + id + "/answer",
                R"({"answer":"Oui, deux mois à compter de la notification."})",
                advisor.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  BOOST_TEST(smtp.wait_until([&](const std::string& o) { return messages(o) >= 3; }, 20s));
  const auto texts = bodies(smtp.output());
  BOOST_TEST_REQUIRE(texts.size() == 3u, smtp.output());
  // In the order they were sent: the two kept ones (in either order), then the answer.
  const auto has = [](const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
  };
  const std::string kept = texts[0] + texts[1];
  BOOST_TEST(has(kept, "a été déposée"), kept);
  BOOST_TEST(has(kept, "Une réponse est attendue avant le"), kept);
  BOOST_TEST(has(kept, "est prise en charge"), kept);
  BOOST_TEST(has(texts[2], "Oui, deux mois à compter de la notification."), texts[2]);
  BOOST_TEST(texts[2].find("\r\n") != std::string::npos);  // lines end in CRLF
}

BOOST_AUTO_TEST_SUITE_END()
