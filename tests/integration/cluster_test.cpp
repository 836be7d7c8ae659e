// Several instances behind a load balancer, with real processes: one PostgreSQL, two gateways
// sharing it, HAProxy in front with the shipped config/examples/cluster/haproxy.cfg (round
// robin, TLS to the client and to each instance). A session works on both instances and ends
// on both; an edit made on one is served by the other; an instance killed under load costs
// only the requests it held, and no write it acknowledged; the database stopped for 5 s costs
// 503s while it is away, and nothing after.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/pg_cluster.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <map>
#include <memory>
#include <thread>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

const char* const kHaproxy = "/usr/sbin/haproxy";

bool can_run() {
  if (!have_postgresql() || access(kHaproxy, X_OK) != 0) {
    BOOST_TEST_MESSAGE(
        "*** PostgreSQL or HAProxy is not installed here (tools/test installs both): "
        "this test is SKIPPED ***");
    return false;
  }
  return true;
}

// How many access lines of `gw` carry a request id starting with `prefix`.
std::size_t served(const GatewayProcess& gw, const std::string& prefix) {
  const std::string log = gw.log(), needle = "\"request_id\":\"" + prefix;
  std::size_t n = 0;
  for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

// What the demo's hello plugin keeps: items an operator creates (the writes of the load).
std::string item(const std::string& name) { return R"({"name":")" + name + "\"}"; }

struct LoadBalanced {
  Cluster db;
  TempDir dir;
  std::unique_ptr<GatewayProcess> a, b;
  std::unique_ptr<ChildProcess> haproxy;
  std::uint16_t port = 0;

  std::string setup;  // a config on the same database and key, for the admin commands

  LoadBalanced() {
    setenv("PASSERELLE_TEST_PG_URL", db.url.c_str(), 1);
    const std::string store = "store:\n  postgresql:\n    url: ${PASSERELLE_TEST_PG_URL}\n";
    // One key for both: it signs what they relay to each other and their plugins' passwords.
    const std::string auth = "auth:\n  secret_key_file: " + dir.path() + "/secret.key\n";
    setup = dir.write("setup.yaml", "tls:\n  certificate: c\n  private_key: k\n" + auth + store);
    auto imported = run_passerelle({"--config", setup, "territories", "import",
                                    std::string(PASSERELLE_TEST_FIXTURES) + "/territories"});
    BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.output);
    const std::string gateway = "demo: true\n" + store + auth + shipped_plugins();
    const std::string server = "  shutdown_grace: 5s\n  trusted_proxies: [127.0.0.1]\n";
    a = std::make_unique<GatewayProcess>(gateway, server);
    b = std::make_unique<GatewayProcess>(gateway, server);

    const TestCerts& certs = test_certs();
    const std::string pem = dir.write("lb.pem", read_text(certs.cert) + read_text(certs.key));
    chmod(pem.c_str(), 0600);
    port = free_port();
    setenv("PASSERELLE_LB_ADDRESS", "127.0.0.1", 1);
    setenv("PASSERELLE_LB_PORT", std::to_string(port).c_str(), 1);
    setenv("PASSERELLE_LB_PEM", pem.c_str(), 1);
    setenv("PASSERELLE_LB_CA", certs.ca.c_str(), 1);
    setenv("PASSERELLE_A_PORT", std::to_string(a->https_port()).c_str(), 1);
    setenv("PASSERELLE_B_PORT", std::to_string(b->https_port()).c_str(), 1);
    haproxy = std::make_unique<ChildProcess>(std::vector<std::string>{
        kHaproxy, "-W", "-db", "-f",
        std::string(PASSERELLE_SOURCE_DIR) + "/config/examples/cluster/haproxy.cfg"});
    BOOST_REQUIRE_MESSAGE(wait_ready(), haproxy->output());
  }

  // Until the balancer answers /readyz with 200 (at most 15 s).
  bool wait_ready() const {
    for (int i = 0; i < 75; ++i) {
      TestConnection c(port);
      if (auto r = c.request("GET", "/readyz"); r && r->status == 200) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster)

// One login through the balancer; 200 requests on one client connection go to both instances
// in turn and all see the session; a logout on one instance ends it on the other at once.
BOOST_AUTO_TEST_CASE(a_session_works_on_both_instances_and_ends_on_both) {
  if (!can_run()) return;
  LoadBalanced lb;
  const Session elu = login(lb.port, "elu.angers", "passerelle-demo");
  TestConnection c(lb.port);
  int ok = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = c.request("GET", "/api/me", "",
                       {{"Cookie", elu.cookie}, {"X-Request-Id", "alt-" + std::to_string(i)}});
    BOOST_REQUIRE(r.has_value());
    ok += r->status == 200;
  }
  BOOST_TEST(ok == 200);
  // The access lines, written at least every second.
  const bool flushed = lb.a->wait_for_log("\"request_id\":\"alt-199\"", 3s) ||
                       lb.b->wait_for_log("\"request_id\":\"alt-199\"", 3s);
  BOOST_TEST(flushed);
  std::this_thread::sleep_for(1500ms);  // the other instance's too
  BOOST_TEST(served(*lb.a, "alt-") == 100u);
  BOOST_TEST(served(*lb.b, "alt-") == 100u);

  // Logged out on A (directly, the balancer aside): B, which holds the session in memory,
  // refuses the cookie once the notification reached it. A answers the logout only after it
  // heard its own notification back from the database, about when B hears it: on a quiet
  // machine B's very next request is refused; on a loaded one B's thread may need a few more
  // milliseconds, so the test allows a second (the session cache's TTL, 5 s, is the backstop).
  TestConnection on_a(lb.a->https_port()), on_b(lb.b->https_port());
  const std::string a_origin = "https://localhost:" + std::to_string(lb.a->https_port());
  BOOST_TEST(on_b.request("GET", "/api/me", "", {{"Cookie", elu.cookie}})->status == 200);
  auto out =
      on_a.request("POST", "/auth/logout", "",
                   {{"Cookie", elu.cookie}, {"Origin", a_origin}, {"X-CSRF-Token", elu.csrf}});
  BOOST_TEST(out->status == 200, out->body);
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  int tries = 0, status = 0;
  do {
    ++tries;
    status = on_b.request("GET", "/api/me", "", {{"Cookie", elu.cookie}})->status;
  } while (status == 200 && std::chrono::steady_clock::now() < deadline);
  BOOST_TEST(status == 401);
  BOOST_TEST_MESSAGE("B refused the session at request " << tries << " after the logout");
  BOOST_TEST(c.request("GET", "/api/me", "", {{"Cookie", elu.cookie}})->status == 401);
}

// An operator's edit of a directorate made on A is what B serves (within the second the issue
// allows; the notification is sent before A answers, B reads the table again on it).
BOOST_AUTO_TEST_CASE(an_edit_on_one_instance_is_served_by_the_other) {
  if (!can_run()) return;
  LoadBalanced lb;
  const Session op = login(lb.a->https_port(), "operateur.demo", "passerelle-demo");
  TestConnection on_a(lb.a->https_port()), on_b(lb.b->https_port());
  const std::vector<std::pair<std::string, std::string>> as_op{{"Cookie", op.cookie}};
  auto before = on_b.request("GET", "/api/directorates/pays-de-la-loire", "", as_op);
  BOOST_TEST_REQUIRE(before->status == 200);
  BOOST_TEST(before->headers["etag"] == "\"1\"");
  auto added = on_a.request(
      "POST", "/api/directorates/pays-de-la-loire/contacts",
      R"({"role":"Chargée de mission","name":"Claire Dubois","email":"c.dubois@demo.passerelle.invalid","phone":"+33 2 00 00 00 01"})",
      op.write_headers());
  BOOST_TEST_REQUIRE(added->status == 201, added->body);
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  std::optional<HttpReply> after;
  do {
    after = on_b.request("GET", "/api/directorates/pays-de-la-loire", "", as_op);
  } while (after && after->headers["etag"] == "\"1\"" &&
           std::chrono::steady_clock::now() < deadline);
  BOOST_TEST_REQUIRE(after.has_value());
  BOOST_TEST(after->headers["etag"] == "\"2\"");
  BOOST_TEST(after->body.find("Claire Dubois") != std::string::npos);
  // A client that read version 1 before the edit and writes through B is refused (B's snapshot
  // has the edit; unit_tests.directorates shows the store refusing it when it has not yet).
  auto stale = on_b.request(
      "PUT", "/api/directorates/pays-de-la-loire",
      R"j({"id":"pays-de-la-loire","version":1,"name":"Direction régionale (périmée)","region":"52","departments":["44","49","53","72","85"],"address":"2 place de la Bourse, 44000 Nantes","phone":"+33 2 61 91 52 00","email":"dr-pdl@demo.passerelle.invalid"})j",
      {{"Cookie", op.cookie},
       {"Origin", "https://localhost:" + std::to_string(lb.b->https_port())},
       {"X-CSRF-Token", op.csrf},
       {"Content-Type", "application/json"},
       {"If-Match", "\"1\""}});
  BOOST_TEST(stale->status == 409, stale->body);
  // The widget and /mine come from the same snapshot.
  const Session elu = login(lb.b->https_port(), "elu.angers", "passerelle-demo");
  auto mine = on_b.request("GET", "/api/directorates/mine", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(mine->body.find("Claire Dubois") != std::string::npos);
}

// kill -9 of A while an operator writes through the balancer: the health check (and the
// refused connections) take A out, the session goes on on B, every write that was answered
// 201 is there afterwards; the only failures are the few requests A held when it died.
BOOST_AUTO_TEST_CASE(an_instance_killed_under_load_loses_no_acknowledged_write) {
  if (!can_run()) return;
  LoadBalanced lb;
  const Session op = login(lb.port, "operateur.demo", "passerelle-demo");
  constexpr int kWrites = 150, kKillAt = 50;
  std::map<int, std::int64_t> acknowledged;  // write -> item id
  std::map<int, int> failures;               // status (-1: no answer) -> count
  auto writes = std::make_unique<TestConnection>(lb.port);
  for (int i = 0; i < kWrites; ++i) {
    if (i == kKillAt) BOOST_TEST(lb.a->stop(SIGKILL, 5s) == 128 + SIGKILL);
    auto r = writes->request("POST", "/api/hello/items", item("w-" + std::to_string(i)),
                             op.write_headers());
    if (r && r->status == 201) {
      acknowledged[i] = boost::json::parse(r->body).at("id").as_int64();
    } else {
      ++failures[r ? r->status : -1];
      writes = std::make_unique<TestConnection>(lb.port);  // as a browser would reconnect
    }
  }
  int failed = 0;
  for (const auto& [status, count] : failures) {
    BOOST_TEST_MESSAGE("status " << status << ": " << count);
    const bool expected = status == 502 || status == 503 || status == -1;
    BOOST_TEST(expected, "status " << status);
    failed += count;
  }
  BOOST_TEST(failed <= 3);  // the request(s) A held, nothing after it was taken out
  BOOST_TEST(acknowledged.size() + failed == static_cast<std::size_t>(kWrites));

  TestConnection c(lb.port);
  for (const auto& [i, id] : acknowledged) {
    auto r = c.request("GET", "/api/hello/items/" + std::to_string(id));
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->status == 200, "write " << i);
    BOOST_TEST(r->body.find("\"w-" + std::to_string(i) + "\"") != std::string::npos, r->body);
  }
  for (int i = 0; i < 10; ++i)
    BOOST_TEST(c.request("GET", "/api/me", "", {{"Cookie", op.cookie}})->status == 200);
}

// PostgreSQL stopped for 5 s under a steady load through the balancer: while it is away the
// answers are 200 (what memory serves) or 503 (what needs it, and the balancer once both
// instances say they are not ready), never anything else; neither instance falls; once it is
// back, everything is served again, writes included.
BOOST_AUTO_TEST_CASE(the_database_stopped_for_5_s_costs_503s_and_nothing_after) {
  if (!can_run()) return;
  LoadBalanced lb;
  const Session op = login(lb.port, "operateur.demo", "passerelle-demo");
  std::atomic<bool> done{false};
  std::map<int, int> statuses;
  std::thread load([&] {
    auto c = std::make_unique<TestConnection>(lb.port);
    for (int i = 0; !done && i < 100'000; ++i) {
      auto r = i % 5 == 0 ? c->request("POST", "/api/hello/items", item("l-" + std::to_string(i)),
                                       op.write_headers())
                          : c->request("GET", "/api/me", "", {{"Cookie", op.cookie}});
      ++statuses[r ? r->status : -1];
      if (!r || !r->keep_alive) c = std::make_unique<TestConnection>(lb.port);
      std::this_thread::sleep_for(10ms);
    }
  });
  std::this_thread::sleep_for(1s);
  lb.db.stop();
  std::this_thread::sleep_for(5s);
  lb.db.restart();
  const bool back = lb.wait_ready();
  std::this_thread::sleep_for(1s);
  done = true;
  load.join();
  BOOST_TEST(back);
  for (const auto& [status, count] : statuses) {
    BOOST_TEST_MESSAGE("status " << status << ": " << count);
    const bool expected = status == 200 || status == 201 || status == 503;
    BOOST_TEST(expected, "status " << status);
  }
  BOOST_TEST(statuses[503] > 0);  // the outage was seen
  BOOST_TEST(kill(lb.a->pid(), 0) == 0);
  BOOST_TEST(kill(lb.b->pid(), 0) == 0);
  TestConnection c(lb.port);
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(c.request("GET", "/api/me", "", {{"Cookie", op.cookie}})->status == 200);
    auto r = c.request("POST", "/api/hello/items", item("after-" + std::to_string(i)),
                       op.write_headers());
    BOOST_TEST(r->status == 201, r->body);
  }
}

// The admin commands, run against the shared database from anywhere, reach every instance at
// once: an account disabled is refused on both at the next request (not after the session
// cache's TTL); territories imported again are what both serve within a second.
BOOST_AUTO_TEST_CASE(admin_commands_reach_every_instance_at_once) {
  if (!can_run()) return;
  LoadBalanced lb;
  const Session elu = login(lb.port, "elu.angers", "passerelle-demo");
  TestConnection on_a(lb.a->https_port()), on_b(lb.b->https_port());
  BOOST_TEST(on_a.request("GET", "/api/me", "", {{"Cookie", elu.cookie}})->status == 200);
  BOOST_TEST(on_b.request("GET", "/api/me", "", {{"Cookie", elu.cookie}})->status == 200);
  auto disabled = run_passerelle({"--config", lb.setup, "users", "disable", "elu.angers"});
  BOOST_TEST_REQUIRE(disabled.exit_code == 0, disabled.output);
  BOOST_TEST(on_a.request("GET", "/api/me", "", {{"Cookie", elu.cookie}})->status == 401);
  BOOST_TEST(on_b.request("GET", "/api/me", "", {{"Cookie", elu.cookie}})->status == 401);

  TempDir renamed;
  write_renamed_fixture(renamed);
  auto imported = run_passerelle({"--config", lb.setup, "territories", "import", renamed.path()});
  BOOST_TEST_REQUIRE(imported.exit_code == 0, imported.output);
  BOOST_TEST(imported.output.find("read them now") != std::string::npos, imported.output);
  for (TestConnection* c : {&on_a, &on_b}) {
    const auto deadline = std::chrono::steady_clock::now() + 1s;
    std::string body;
    do {
      body = c->request("GET", "/api/territories/communes/49007")->body;
    } while (body.find("Angers-sur-Maine") == std::string::npos &&
             std::chrono::steady_clock::now() < deadline);
    BOOST_TEST(body.find("Angers-sur-Maine") != std::string::npos, body);
  }
}

BOOST_AUTO_TEST_SUITE_END()
