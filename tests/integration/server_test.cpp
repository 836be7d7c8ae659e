// The real binary over real TLS on loopback: headers, keep-alive, limits, timeouts, redirect,
// TLS versions, certificate reload, faulty plugins and graceful shutdown.
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <openssl/ssl.h>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>
#include <memory>
#include <vector>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

std::string plugins_yaml() {
  return "plugins:\n"
         "  - name: hello\n    library: " +
         module("hello") +
         "\n"
         "  - name: faulty\n    library: " +
         module("faulty") +
         "\n"
         "    route_timeouts:\n      GET /api/faulty/hang: 300ms\n";
}

TestConnection::Options verified() {
  TestConnection::Options o;
  o.ca_file = test_certs().ca;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(healthz_over_verified_tls_with_security_headers) {
  GatewayProcess gw;
  TestConnection c(gw.https_port(), verified());
  BOOST_TEST_REQUIRE(c.connected());
  auto r = c.request("GET", "/healthz");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body == R"({"status":"ok"})");
  BOOST_TEST(r->headers["content-type"] == "application/json");
  BOOST_TEST(r->headers["strict-transport-security"] == "max-age=63072000; includeSubDomains");
  BOOST_TEST(r->headers["x-content-type-options"] == "nosniff");
  BOOST_TEST(r->headers["content-security-policy"].find("frame-ancestors 'none'") !=
             std::string::npos);
  BOOST_TEST(r->headers["x-request-id"].size() == 32u);
  BOOST_TEST(r->headers["content-length"] == "15");
  // An origin server with a clock sends Date (RFC 9110 §6.6.1): "Sun, 06 Nov 1994 08:49:37 GMT".
  const std::string date = r->headers["date"];
  BOOST_TEST(date.size() == 29u);
  BOOST_TEST(date.substr(date.size() < 4 ? 0 : date.size() - 4) == " GMT");
}

BOOST_AUTO_TEST_CASE(request_id_is_echoed_only_when_well_formed) {
  GatewayProcess gw;
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/healthz", "", {{"X-Request-Id", "abc-123.x_y"}});
  BOOST_TEST(r->headers["x-request-id"] == "abc-123.x_y");
  r = c.request("GET", "/healthz", "", {{"X-Request-Id", "bad id\"{}"}});
  BOOST_TEST(r->headers["x-request-id"].size() == 32u);
  BOOST_TEST(gw.wait_for_log("\"request_id\":\"abc-123.x_y\""));
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_several_requests_and_logs_no_query_string) {
  GatewayProcess gw(plugins_yaml());
  TestConnection c(gw.https_port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.request("GET", "/api/hello?token=s3cret");
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->status == 200);
    BOOST_TEST(r->keep_alive);
  }
  BOOST_TEST(gw.wait_for_log("\"path\":\"/api/hello\""));
  BOOST_TEST(gw.log().find("s3cret") == std::string::npos);
  BOOST_TEST(gw.log().find("\"component\":\"access\"") != std::string::npos);
}

// Behind a trusted load balancer the client is the last X-Forwarded-For entry (what the
// balancer appended), and the balancer's many connections are not capped as one client's;
// from anyone else the header means nothing.
BOOST_AUTO_TEST_CASE(a_trusted_balancer_names_the_client_and_no_one_else_does) {
  GatewayProcess proxied("",
                         "  shutdown_grace: 5s\n  trusted_proxies: [127.0.0.1]\n"
                         "  limits:\n    max_connections_per_address: 2\n");
  std::vector<std::unique_ptr<TestConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<TestConnection>(proxied.https_port()));
    const auto r = held.back()->request("GET", "/healthz", "",
                                        {{"X-Forwarded-For", "6.6.6.6"},
                                         {"X-Forwarded-For", "6.6.6.7, 192.0.2.9"},
                                         {"X-Request-Id", "via-" + std::to_string(i)}});
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->status == 200);
  }
  BOOST_TEST(proxied.wait_for_log("\"remote\":\"192.0.2.9\""), proxied.log());
  BOOST_TEST(proxied.log().find("6.6.6.") == std::string::npos);

  GatewayProcess direct("",
                        "  shutdown_grace: 5s\n"
                        "  limits:\n    max_connections_per_address: 2\n");
  TestConnection c(direct.https_port());
  BOOST_TEST(c.request("GET", "/healthz", "", {{"X-Forwarded-For", "192.0.2.9"}})->status == 200);
  BOOST_TEST(direct.wait_for_log("\"remote\":\"127.0.0.1\""), direct.log());
  BOOST_TEST(direct.log().find("192.0.2.9") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(buffered_access_lines_are_written_in_order_at_a_clean_stop) {
  // A flush interval longer than the test: only the stop can write these lines.
  GatewayProcess gw("log:\n  access_log_flush: 60s\n");
  TestConnection c(gw.https_port());
  for (const char* id : {"flush-1", "flush-2", "flush-3"})
    BOOST_TEST(c.request("GET", "/healthz", "", {{"X-Request-Id", id}})->status == 200);
  BOOST_TEST(gw.log().find("\"component\":\"access\"") == std::string::npos);  // still buffered
  BOOST_TEST(gw.stop(SIGTERM) == 0);
  BOOST_TEST_REQUIRE(gw.wait_for_log("\"request_id\":\"flush-3\""));
  const std::string log = gw.log();
  const auto first = log.find("\"request_id\":\"flush-1\"");
  const auto second = log.find("\"request_id\":\"flush-2\"");
  BOOST_TEST_REQUIRE(first != std::string::npos);
  BOOST_TEST_REQUIRE(second != std::string::npos);
  BOOST_TEST(first < second);
  BOOST_TEST(second < log.find("\"request_id\":\"flush-3\""));
}

BOOST_AUTO_TEST_CASE(tls_below_1_2_is_refused) {
  GatewayProcess gw;
  TestConnection::Options old;
  old.max_tls_version = TLS1_1_VERSION;
  BOOST_TEST(!TestConnection(gw.https_port(), old).connected());
  TestConnection::Options v12;
  v12.max_tls_version = TLS1_2_VERSION;
  TestConnection c(gw.https_port(), v12);
  BOOST_TEST_REQUIRE(c.connected());
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
}

BOOST_AUTO_TEST_CASE(tls_sessions_are_resumed) {
  GatewayProcess gw;
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TestConnection::Options o;
    o.max_tls_version = version;
    TestConnection first(gw.https_port(), o);
    BOOST_TEST_REQUIRE(first.request("GET", "/healthz")->status == 200);
    BOOST_TEST(!first.resumed());
    o.resume = first.session();
    BOOST_TEST_REQUIRE(o.resume != nullptr);
    TestConnection second(gw.https_port(), o);
    BOOST_TEST(second.resumed(), "TLS version " << std::hex << version);
    BOOST_TEST(second.request("GET", "/healthz")->status == 200);
  }
}

BOOST_AUTO_TEST_CASE(clients_that_vanish_do_not_hurt_the_server) {
  GatewayProcess gw;
  for (int i = 0; i < 5; ++i) {
    TestConnection c(gw.https_port());  // handshake, then gone without close_notify
    if (i % 2) c.send_raw("GET /healthz HTTP/1.1\r\nHo");
  }
  std::this_thread::sleep_for(200ms);  // let the server write to the closed sockets
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/healthz");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
}

BOOST_AUTO_TEST_CASE(oversized_header_is_a_431) {
  GatewayProcess gw;
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/healthz", "", {{"X-Big", std::string(9000, 'a')}});
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 431);
  BOOST_TEST(r->body.find("\"code\":\"header_too_large\"") != std::string::npos);
  BOOST_TEST(c.wait_closed(5s));
}

BOOST_AUTO_TEST_CASE(oversized_body_is_a_413) {
  GatewayProcess gw(plugins_yaml(), "  limits:\n    body_bytes: 1024\n");
  TestConnection c(gw.https_port());
  auto r = c.request("POST", "/api/hello/echo", std::string(2048, ' '));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 413);
  BOOST_TEST(r->body.find("\"code\":\"payload_too_large\"") != std::string::npos);
  TestConnection d(gw.https_port());
  r = d.request("POST", "/api/hello/echo", R"({"ok":true})");
  BOOST_TEST(r->status == 200);
}

BOOST_AUTO_TEST_CASE(slow_and_idle_clients_are_disconnected) {
  GatewayProcess gw("", "  limits:\n    header_timeout: 500ms\n    idle_timeout: 500ms\n");
  TestConnection slow(gw.https_port());
  BOOST_TEST_REQUIRE(slow.connected());
  slow.send_raw("GET /healthz HTTP/1.1\r\nHost: loc");  // and never the rest
  BOOST_TEST(slow.wait_closed(5s));

  TestConnection idle(gw.https_port());
  BOOST_TEST(idle.request("GET", "/healthz")->status == 200);
  BOOST_TEST(idle.wait_closed(5s));
}

BOOST_AUTO_TEST_CASE(a_connection_idle_long_enough_to_be_parked_still_serves_and_times_out) {
  // Idle for more than 250 ms, a connection is parked (no coroutine of its own): its next
  // request must still be served, and its idle timeout still close it.
  GatewayProcess gw("", "  limits:\n    idle_timeout: 1500ms\n");
  TestConnection c(gw.https_port());
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  // Time itself is what is tested here (the parking delay), not an order of events.
  std::this_thread::sleep_for(600ms);
  auto r = c.request("GET", "/healthz");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->keep_alive);
  std::this_thread::sleep_for(600ms);  // parked again
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  BOOST_TEST(c.wait_closed(5s));  // and the idle timeout ends it
}

// A client that asks and never reads its answers is dropped at the write timeout: the answers
// stop before the last (reading them all afterwards fails), and others are served meanwhile.
BOOST_AUTO_TEST_CASE(a_client_that_never_reads_is_dropped_at_its_write_timeout) {
  GatewayProcess gw(plugins_yaml(), "  limits:\n    write_timeout: 1s\n");
  TestConnection c(gw.https_port());
  std::string pipeline;
  constexpr int kAsked = 64;  // 64 x 256 KiB: far more than loopback's socket buffers hold
  for (int i = 0; i < kAsked; ++i)
    pipeline += "GET /api/faulty/big HTTP/1.1\r\nHost: localhost\r\n\r\n";
  BOOST_TEST_REQUIRE(c.send_raw(pipeline));
  BOOST_TEST(TestConnection(gw.https_port()).request("GET", "/healthz")->status == 200);
  // Long enough for the write timeout to pass while nothing is read (time is the subject).
  std::this_thread::sleep_for(3s);
  int answered = 0;
  while (answered < kAsked && c.read_reply()) ++answered;
  BOOST_TEST(answered < kAsked);
}

// A TLS handshake that stalls half-way is cut at the handshake timeout.
BOOST_AUTO_TEST_CASE(a_stalled_handshake_is_cut_at_its_timeout) {
  GatewayProcess gw("", "  limits:\n    handshake_timeout: 500ms\n");
  TestConnection::Options plain;
  plain.tls = false;
  TestConnection c(gw.https_port(), plain);
  BOOST_TEST_REQUIRE(c.connected());
  BOOST_TEST_REQUIRE(c.send_raw(std::string("\x16\x03\x01\x02\x00\x01", 6)));  // and no more
  BOOST_TEST(c.wait_closed(5s));
}

// The deadline timer is armed lazily (a later deadline waits for the armed one to fire first):
// the header timeout of a second request, shorter than the idle timeout armed before it, must
// still cut a client that sends half a head.
BOOST_AUTO_TEST_CASE(a_second_request_sent_slowly_is_cut_at_its_header_timeout) {
  GatewayProcess gw("", "  limits:\n    header_timeout: 500ms\n    idle_timeout: 60s\n");
  TestConnection c(gw.https_port());
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: loc");  // and never the rest
  BOOST_TEST(c.wait_closed(5s));
}

// A parked connection woken by bytes that never make a request (a TLS record sent a byte at a
// time) keeps its idle timeout: waking it does not start the timeout again.
BOOST_AUTO_TEST_CASE(bytes_that_never_make_a_request_do_not_hold_a_connection_open) {
  GatewayProcess gw("", "  limits:\n    idle_timeout: 1500ms\n    header_timeout: 60s\n");
  TestConnection c(gw.https_port());
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  // An application-data record header announcing 16 KiB, then its body a byte at a time,
  // each after the connection has parked again (250 ms).
  bool closed = false;
  std::string record("\x17\x03\x03\x40\x00", 5);
  for (int i = 0; i < 20 && !closed; ++i) {
    if (!c.send_below_tls(i == 0 ? record : std::string(1, 'x'))) break;
    closed = c.wait_peer_shutdown(400ms);
  }
  BOOST_TEST(closed);  // within the idle timeout and a wake or two, not after 20 bytes (8 s)
}

BOOST_AUTO_TEST_CASE(plain_http_is_redirected_to_https) {
  GatewayProcess gw;
  TestConnection::Options plain;
  plain.tls = false;
  TestConnection c(gw.http_port(), plain);
  auto r = c.request("GET", "/api/hello?x=1");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 308);
  BOOST_TEST(r->headers["location"] ==
             "https://localhost:" + std::to_string(gw.https_port()) + "/api/hello?x=1");
}

BOOST_AUTO_TEST_CASE(faulty_plugin_costs_only_its_own_requests) {
  GatewayProcess gw(plugins_yaml());
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/api/faulty/throw");
  BOOST_TEST(r->status == 500);
  BOOST_TEST(r->body.find("secret internal detail") == std::string::npos);
  BOOST_TEST(gw.wait_for_log("secret internal detail"));  // the detail goes to the log only
  r = c.request("GET", "/api/faulty/hang");
  BOOST_TEST(r->status == 504);
  BOOST_TEST(r->body.find("\"code\":\"plugin_timeout\"") != std::string::npos);
  BOOST_TEST(c.request("GET", "/api/hello")->status == 200);
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  BOOST_TEST(TestConnection(gw.https_port()).request("GET", "/readyz")->status == 200);
}

// A plugin at its concurrency limit (max_concurrent) refuses at once with 503 and Retry-After;
// the other plugins and its own later requests are served.
BOOST_AUTO_TEST_CASE(a_plugin_at_its_limit_refuses_and_hurts_no_other) {
  GatewayProcess gw("plugins:\n  - name: hello\n    library: " + module("hello") +
                    "\n  - name: faulty\n    library: " + module("faulty") +
                    "\n    max_concurrent: 2\n");
  TestConnection first(gw.https_port()), second(gw.https_port());
  first.send_raw("GET /api/faulty/slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  second.send_raw("GET /api/faulty/slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  BOOST_TEST_REQUIRE(gw.wait_for_log_times("slow request started", 2));  // both in their handler
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/api/faulty/ok");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 503, r->body);
  BOOST_TEST(r->body.find("\"code\":\"plugin_busy\"") != std::string::npos);
  BOOST_TEST(r->headers["retry-after"] == "1");
  BOOST_TEST(c.request("GET", "/api/hello")->status == 200);
  BOOST_TEST(first.read_reply()->status == 200);
  BOOST_TEST(second.read_reply()->status == 200);
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 200);
}

// A plugin whose start fails is not routed, and /readyz says why to a probe on this machine; a
// plugin the config marks required stops the gateway instead.
BOOST_AUTO_TEST_CASE(a_failed_start_is_reported_or_fatal_when_required) {
  {
    GatewayProcess gw("plugins:\n  - name: hello\n    library: " + module("hello") +
                      "\n  - name: faulty\n    library: " + module("faulty") +
                      "\n    config:\n      fail_start: true\n");
    BOOST_TEST_REQUIRE(gw.wait_for_log("started with failed plugins"), gw.log());
    TestConnection c(gw.https_port());
    auto r = c.request("GET", "/readyz");
    BOOST_TEST(r->status == 503);
    BOOST_TEST(r->body.find("\"failure\":\"start refused on purpose\"") != std::string::npos,
               r->body);
    BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 503);
    BOOST_TEST(c.request("GET", "/api/hello")->status == 200);
    // The public list names no reason.
    BOOST_TEST(c.request("GET", "/api/plugins")->body.find("start refused") == std::string::npos);
  }
  GatewayProcess gw("plugins:\n  - name: faulty\n    library: " + module("faulty") +
                    "\n    required: true\n    config:\n      fail_start: true\n");
  BOOST_TEST(gw.wait_for_log("a required plugin failed to start"), gw.log());
  BOOST_TEST(gw.stop(0, 10s) == 1);  // signal 0: just wait for the exit
}

BOOST_AUTO_TEST_CASE(graceful_shutdown_finishes_the_request_in_flight) {
  GatewayProcess gw(plugins_yaml());
  TestConnection busy(gw.https_port());
  TestConnection idle(gw.https_port());
  BOOST_TEST(idle.request("GET", "/healthz")->status == 200);
  busy.send_raw("GET /api/faulty/slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  BOOST_TEST_REQUIRE(gw.wait_for_log("slow request started"));  // it is in its handler
  kill(gw.pid(), SIGTERM);
  BOOST_TEST(gw.wait_for_log("shutting down"));
  BOOST_TEST(idle.wait_closed(5s));
  BOOST_TEST(!TestConnection(gw.https_port()).connected());
  auto r = busy.read_reply();
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body == R"({"slept_ms":1500})");
  BOOST_TEST(!r->keep_alive);
  BOOST_TEST(gw.stop(0, 10s) == 0);  // signal 0: just wait for the exit
}

BOOST_AUTO_TEST_CASE(sighup_reloads_the_certificate) {
  GatewayProcess gw;
  const std::string before = TestConnection(gw.https_port()).peer_certificate_serial();
  BOOST_TEST_REQUIRE(!before.empty());
  TempDir fresh;
  BOOST_TEST_REQUIRE(
      std::system(
          (std::string(PASSERELLE_TEST_CERTS_TOOL) + " " + fresh.path() + " >/dev/null").c_str()) ==
      0);
  std::filesystem::copy_file(fresh.path() + "/dev-cert.pem", gw.dir().path() + "/cert.pem",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(fresh.path() + "/dev-key.pem", gw.dir().path() + "/key.pem",
                             std::filesystem::copy_options::overwrite_existing);
  kill(gw.pid(), SIGHUP);
  BOOST_TEST(gw.wait_for_log("TLS certificates reloaded"));
  TestConnection after(gw.https_port());
  BOOST_TEST(after.peer_certificate_serial() != before);
  BOOST_TEST(after.request("GET", "/healthz")->status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
