// HTTP/1.1 framing and abuse over real TLS with raw bytes (RFC 9112): ambiguous framing is a
// 400 that closes the connection, nothing after it is read as a request, limits hold, and the
// server answers the next client as before.
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <thread>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

std::string faulty_yaml() {
  return "plugins:\n  - name: faulty\n    library: " + module("faulty") + "\n";
}

struct Exchange {
  std::optional<HttpReply> reply;
  bool closed = false;  // the server closed the connection after its reply, sending nothing more
};

// One connection: the raw bytes, the first reply, then whether the server closes.
Exchange exchange(const GatewayProcess& gw, const std::string& raw) {
  TestConnection c(gw.https_port());
  BOOST_TEST_REQUIRE(c.connected());
  c.send_raw(raw);
  Exchange e;
  e.reply = c.read_reply();
  e.closed = c.wait_closed(5s);
  return e;
}

void expect_refused(const GatewayProcess& gw, const std::string& raw, int status = 400) {
  const Exchange e = exchange(gw, raw);
  BOOST_TEST_REQUIRE(e.reply.has_value(), raw);
  BOOST_TEST(e.reply->status == status, raw);
  BOOST_TEST(e.reply->body.find("\"request_id\"") != std::string::npos, raw);
  BOOST_TEST(!e.reply->keep_alive, raw);
  BOOST_TEST(e.closed, "connection left open (or a second response) after: " << raw);
}

void expect_server_answers(const GatewayProcess& gw) {
  auto r = TestConnection(gw.https_port()).request("GET", "/healthz");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
}

// A request smuggled behind the body of a first one, on the same connection.
const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";

long status_kib(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(framing)

BOOST_AUTO_TEST_CASE(transfer_encoding_not_ending_in_chunked_is_refused_and_closed) {
  GatewayProcess gw;
  for (const std::string te : {"identity", "gzip", "xchunked", "chunked, identity", "chunked;q=1",
                               "chunked, chunked", ""}) {
    expect_refused(gw, "POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: " + te +
                           "\r\n\r\n" + kSmuggled);
  }
  // The same, split over two header lines.
  expect_refused(gw,
                 "POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: identity\r\n\r\n" +
                     kSmuggled);
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(a_transfer_coding_before_chunked_is_not_implemented) {
  GatewayProcess gw;
  expect_refused(gw,
                 "POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n"
                 "\r\n0\r\n\r\n" +
                     kSmuggled,
                 501);
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(content_length_and_transfer_encoding_together_are_refused) {
  GatewayProcess gw;
  // CL.TE and TE.CL: the two classic desyncs between a front proxy and the gateway.
  expect_refused(gw,
                 "POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                     kSmuggled);
  expect_refused(gw,
                 "POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Length: 48\r\n\r\n0\r\n\r\n" +
                     kSmuggled);
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(transfer_encoding_in_http_1_0_is_refused) {
  GatewayProcess gw;
  expect_refused(gw,
                 "POST /healthz HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                 "\r\n0\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(content_length_that_is_repeated_or_malformed_is_refused) {
  GatewayProcess gw;
  for (const std::string cl :
       {"Content-Length: 1\r\nContent-Length: 2", "Content-Length: 1, 2", "Content-Length: -1",
        "Content-Length: 0x10", "Content-Length: 1 1", "Content-Length: 99999999999999999999999"}) {
    expect_refused(gw,
                   "POST /healthz HTTP/1.1\r\nHost: localhost\r\n" + cl + "\r\n\r\nx" + kSmuggled);
  }
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(repeated_singleton_headers_are_refused) {
  GatewayProcess gw;
  for (const std::string field :
       {"Host: localhost", "Content-Type: application/json", "Authorization: Bearer a",
        "Cookie: a=b", "Origin: https://a", "Sec-Fetch-Site: same-origin"}) {
    const std::string head = field.rfind("Host", 0) == 0 ? "" : "Host: localhost\r\n";
    expect_refused(gw, "GET /healthz HTTP/1.1\r\n" + head + field + "\r\n" + field + "\r\n\r\n");
  }
  // Names compare without case.
  expect_refused(gw, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nhost: evil.example\r\n\r\n");
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(a_missing_host_or_a_malformed_head_is_refused) {
  GatewayProcess gw;
  expect_refused(gw, "GET /healthz HTTP/1.1\r\n\r\n");
  expect_refused(gw, "GET /healthz HTTP/1.1\r\nHost : localhost\r\n\r\n");  // space before colon
  // A folded (obs-fold) Transfer-Encoding is unfolded into one value that is not "chunked".
  expect_refused(gw,
                 "POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\n"
                 " chunked\r\n\r\n0\r\n\r\n" +
                     kSmuggled);
  expect_refused(gw, "GET /healthz HTTP/1.1\r\nHost: local\x01host\r\n\r\n");
  expect_refused(gw, "GET /he lthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  expect_refused(gw, "GET /healthz HTTP/1.1\nHost: localhost\n\n");  // bare LF
  expect_refused(gw, "GET /healthz HTTP/2.0\r\nHost: localhost\r\n\r\n");
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(bad_chunk_framing_is_refused) {
  GatewayProcess gw;
  const std::string head =
      "POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_refused(gw, head + "fffffffffffffffffff\r\n");  // chunk size overflow
  expect_refused(gw, head + "-1\r\n");
  expect_refused(gw, head + "3\r\nabcX\r\n0\r\n\r\n");     // missing CRLF after the data
  expect_refused(gw, head + "1;a=b c\r\nx\r\n0\r\n\r\n");  // not a chunk extension
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(an_endless_chunk_extension_or_trailer_section_is_cut_off) {
  GatewayProcess gw;
  const std::string head =
      "POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  // 64 KiB of one extension, then of trailer fields: both past the read buffer's bound.
  expect_refused(gw, head + "1;" + std::string(64 * 1024, 'a') + "\r\nx\r\n0\r\n\r\n");
  std::string trailers;
  while (trailers.size() < 64 * 1024) trailers += "X-T: " + std::string(60, 'b') + "\r\n";
  expect_refused(gw, head + "1\r\nx\r\n0\r\n" + trailers + "\r\n");
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(trailer_fields_do_not_reach_the_plugin) {
  GatewayProcess gw(faulty_yaml());
  TestConnection c(gw.https_port());
  c.send_raw(
      "POST /api/faulty/headers HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Smuggled: 1\r\nAuthorization: Bearer "
      "x\r\n\r\n");
  auto r = c.read_reply();
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body.find("x-smuggled") == std::string::npos, r->body);
  BOOST_TEST(r->body.find("transfer-encoding") != std::string::npos, r->body);
  BOOST_TEST(boost::json::parse(r->body).at("body").as_string() == "{}");
  // The connection goes on: a chunked body with trailers is well framed.
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
}

BOOST_AUTO_TEST_CASE(head_answers_like_get_without_a_body) {
  GatewayProcess gw(faulty_yaml());
  TestConnection c(gw.https_port());
  for (const std::string target : {"/healthz", "/api/faulty/ok"}) {
    const auto get = c.request("GET", target);
    BOOST_TEST_REQUIRE(get.has_value());
    c.send_raw("HEAD " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const auto head = c.read_reply(true);
    BOOST_TEST_REQUIRE(head.has_value());
    BOOST_TEST(head->status == 200);
    BOOST_TEST(head->body.empty());
    BOOST_TEST(head->headers.at("content-length") == std::to_string(get->body.size()));
    BOOST_TEST(head->headers.at("content-type") == get->headers.at("content-type"));
  }
  // Nothing of a body was left on the connection: the next answer is read cleanly.
  BOOST_TEST(c.request("GET", "/healthz")->body == R"({"status":"ok"})");
  c.send_raw("HEAD /api/faulty/throw HTTP/1.1\r\nHost: localhost\r\n\r\n");
  BOOST_TEST(c.read_reply(true)->status == 500);
  c.send_raw("HEAD /api/faulty/headers HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const auto post_only = c.read_reply(true);
  BOOST_TEST_REQUIRE(post_only.has_value());
  BOOST_TEST(post_only->status == 405);
  BOOST_TEST(post_only->headers.at("allow") == "POST");
}

BOOST_AUTO_TEST_CASE(bytes_outside_ascii_in_a_path_are_logged_percent_encoded) {
  GatewayProcess gw;
  // Beast lets bytes 0x80-0xFF through in a target; as such, "\xff" is not UTF-8 and a JSON log
  // reader may drop the whole line, and the request with it.
  const Exchange e = exchange(gw,
                              "GET /caf\xc3\xa9/\xff?q=\xfe HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n");
  BOOST_TEST_REQUIRE(e.reply.has_value());
  BOOST_TEST(e.reply->status == 400);  // not a URI either
  BOOST_TEST(gw.wait_for_log("\"path\":\"/caf%C3%A9/%FF\""));
  BOOST_TEST(gw.log().find('\xff') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_body_trickled_in_is_cut_off_at_the_body_timeout_from_its_start) {
  GatewayProcess gw("", "  limits:\n    body_timeout: 500ms\n");
  TestConnection c(gw.https_port());
  BOOST_TEST_REQUIRE(
      c.send_raw("POST /healthz HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"));
  // One byte per 100 ms, the pace of a slow client (the sleep orders nothing): each read is
  // quick, the whole body would take 10 s. Sending fails once the server has closed.
  int sent = 0;
  while (sent < 100 && c.send_raw("x")) {
    ++sent;
    std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(sent < 100);
  BOOST_TEST(!c.read_reply().has_value());  // closed without an answer, as timeouts are
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_CASE(a_204_or_304_with_a_body_is_answered_without_it) {
  GatewayProcess gw(faulty_yaml());
  TestConnection c(gw.https_port());
  for (const std::string code : {"204", "304"}) {
    c.send_raw("GET /api/faulty/status?code=" + code + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const auto r = c.read_reply(true);  // no body may follow, whatever the handler gave
    BOOST_TEST_REQUIRE(r.has_value(), code);
    BOOST_TEST(r->status == std::stoi(code));
    BOOST_TEST(r->headers.count("content-length") == 0u, code);
  }
  // The connection goes on, and nothing of a body was left on it.
  BOOST_TEST(c.request("GET", "/healthz")->body == R"({"status":"ok"})");
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  GatewayProcess gw(faulty_yaml());
  TestConnection c(gw.https_port());
  c.send_raw(
      "GET /api/faulty/slow?ms=100 HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  auto first = c.read_reply();
  auto second = c.read_reply();
  BOOST_TEST_REQUIRE((first && second));
  BOOST_TEST(first->body == R"({"slept_ms":100})");
  BOOST_TEST(second->body == R"({"status":"ok"})");
}

// The TLS loop reads what has come and waits only when nothing has: a request that arrives one
// byte per TLS record, chunk lines and trailer included, is read across as many waits.
BOOST_AUTO_TEST_CASE(a_request_sent_one_byte_per_tls_record_is_served) {
  GatewayProcess gw(faulty_yaml());
  TestConnection c(gw.https_port());
  const std::string raw =
      "POST /api/faulty/headers HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
  for (char byte : raw) BOOST_TEST_REQUIRE(c.send_raw(std::string(1, byte)));
  auto r = c.read_reply();
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(boost::json::parse(r->body).at("body").as_string() == "{}");
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
}

// More pipelined requests than the loop answers in a row before letting other connections
// run: all answered, in order, and another connection is served meanwhile.
BOOST_AUTO_TEST_CASE(a_long_pipeline_is_answered_in_order_and_others_are_served) {
  GatewayProcess gw(faulty_yaml(), "  workers: 1\n");
  TestConnection c(gw.https_port());
  std::string pipeline;
  for (int i = 0; i < 100; ++i)
    pipeline += "GET /api/faulty/status?code=" + std::to_string(200 + i % 7) +
                " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  BOOST_TEST_REQUIRE(c.send_raw(pipeline));
  BOOST_TEST(TestConnection(gw.https_port()).request("GET", "/healthz")->status == 200);
  for (int i = 0; i < 100; ++i) {
    auto r = c.read_reply();
    BOOST_TEST_REQUIRE(r.has_value(), "answer " << i);
    BOOST_TEST(r->status == 200 + i % 7, "answer " << i);
  }
}

BOOST_AUTO_TEST_CASE(connections_per_address_are_capped) {
  GatewayProcess gw("", "  limits:\n    max_connections_per_address: 3\n");
  std::vector<std::unique_ptr<TestConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<TestConnection>(gw.https_port()));
    BOOST_TEST_REQUIRE(held.back()->request("GET", "/healthz")->status == 200);
  }
  TestConnection::Options quick;
  quick.timeout = 3s;
  TestConnection fourth(gw.https_port(), quick);
  BOOST_TEST(!(fourth.connected() && fourth.request("GET", "/healthz").has_value()));
  held.pop_back();  // one leaves: a place is free again (once the server has seen it go)
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    TestConnection again(gw.https_port(), quick);
    auto r = again.connected() ? again.request("GET", "/healthz") : std::nullopt;
    admitted = r && r->status == 200;
    if (!admitted) std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST(admitted);
  for (auto& c : held) BOOST_TEST(c->request("GET", "/healthz")->status == 200);
}

BOOST_AUTO_TEST_CASE(near_the_limit_idle_connections_make_room_first) {
  GatewayProcess gw("", "  limits:\n    max_connections: 10\n");
  std::vector<std::unique_ptr<TestConnection>> idle;
  for (int i = 0; i < 9; ++i) {
    idle.push_back(std::make_unique<TestConnection>(gw.https_port()));
    BOOST_TEST_REQUIRE(idle.back()->request("GET", "/healthz")->status == 200);
  }
  // The tenth connection is admitted, and the oldest idle one is asked to leave.
  TestConnection tenth(gw.https_port());
  BOOST_TEST_REQUIRE(tenth.connected());
  BOOST_TEST(tenth.request("GET", "/healthz")->status == 200);
  BOOST_TEST(idle.front()->wait_closed(5s));
}

BOOST_AUTO_TEST_CASE(endless_chunk_extensions_on_50_connections_leave_memory_bounded) {
  GatewayProcess gw;
  expect_server_answers(gw);
  const long before = status_kib(gw.pid(), "VmRSS");
  BOOST_TEST_REQUIRE(before > 0);
  std::atomic<long> sent_kib{0};
  std::vector<std::thread> clients;
  const auto until = std::chrono::steady_clock::now() + 5s;
  for (int i = 0; i < 50; ++i) {
    clients.emplace_back([&] {
      const std::string filler(16 * 1024, 'a');
      TestConnection::Options o;
      o.timeout = 2s;
      while (std::chrono::steady_clock::now() < until) {
        TestConnection c(gw.https_port(), o);
        if (!c.send_raw("POST /healthz HTTP/1.1\r\nHost: localhost\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n1;"))
          continue;
        while (std::chrono::steady_clock::now() < until && c.send_raw(filler)) sent_kib += 16;
      }
    });
  }
  for (auto& t : clients) t.join();
  const long peak = status_kib(gw.pid(), "VmHWM");
  BOOST_TEST_MESSAGE("sent " << sent_kib / 1024 << " MiB of chunk extensions; gateway RSS "
                             << before / 1024 << " MiB before, peak " << peak / 1024 << " MiB");
  BOOST_TEST(peak - before < 64 * 1024, "peak RSS grew by " << (peak - before) / 1024 << " MiB");
  expect_server_answers(gw);
}

BOOST_AUTO_TEST_SUITE_END()
