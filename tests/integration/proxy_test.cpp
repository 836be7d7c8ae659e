// Proxied services (a plugin entry of kind proxy) through the real binary, against an upstream
// on loopback that tells what it received: the session never leaves the gateway, the identity
// goes as a signed JWT, connections are kept alive, and an upstream that is slow, down or
// too talkative costs a clear 504 or 502 on its own routes only.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <sstream>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

// The echo upstream (tests/support/echo_upstream.py) on a port of its choice.
class EchoUpstream {
 public:
  /// `tls`: over HTTPS, with the test CA's localhost certificate.
  explicit EchoUpstream(bool tls = false) : tls_(tls), process_(command(tls)) {
    BOOST_REQUIRE(process_.wait_until(
        [](const std::string& o) { return o.find('\n') != std::string::npos; }, 10s));
    const std::string out = process_.output();
    port_ = std::stoi(out.substr(out.find(' ') + 1));
  }
  std::string url() const {
    return tls_ ? "https://localhost:" + std::to_string(port_) + "/base"
                : "http://127.0.0.1:" + std::to_string(port_) + "/base";
  }

 private:
  static std::vector<std::string> command(bool tls) {
    std::vector<std::string> argv = {
        "/usr/bin/python3", "-u",
        std::string(PASSERELLE_SOURCE_DIR) + "/tests/support/echo_upstream.py"};
    if (tls) argv.insert(argv.end(), {"--tls", test_certs().cert, test_certs().key});
    return argv;
  }
  bool tls_;
  ChildProcess process_;
  int port_ = 0;
};

// A TCP listener that never accepts: the kernel completes connections, nobody ever answers (a
// hung service whose machine is up).
class MuteListener {
 public:
  MuteListener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    BOOST_REQUIRE(fd_ >= 0);
    BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) == 0);
    BOOST_REQUIRE(::listen(fd_, 16) == 0);
    BOOST_REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~MuteListener() { ::close(fd_); }
  MuteListener(const MuteListener&) = delete;
  MuteListener& operator=(const MuteListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

std::string proxy_entry(const std::string& name, const std::string& upstream,
                        const std::string& extra = "") {
  return "  - name: " + name +
         "\n    kind: proxy\n    timeout: 10s\n    config:\n      upstream: " + upstream +
         "\n      roles: [elu, agent]\n" + extra;
}

boost::json::object echoed(const std::optional<HttpReply>& r) {
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  return boost::json::parse(r->body).as_object();
}

// A gateway relaying `name` to an echo upstream, ready, with the demo élu logged in.
struct Relay {
  explicit Relay(const std::string& name, const std::string& extra = "")
      : gw("demo: true\nplugins:\n" + proxy_entry(name, upstream.url(), extra)) {
    BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
    elu = login(gw, "elu.angers", "passerelle-demo");
  }
  EchoUpstream upstream;
  GatewayProcess gw;
  Session elu;
};

// The head of a chunked POST of the élu's to `target` (its body to follow, chunk by chunk).
std::string chunked_post(const std::string& target, GatewayProcess& gw, const Session& elu) {
  std::string head = "POST " + target +
                     " HTTP/1.1\r\nHost: localhost:" + std::to_string(gw.https_port()) +
                     "\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n";
  for (const auto& [name, value] : elu.write_headers())
    if (name != "Content-Type") head += name + ": " + value + "\r\n";
  return head + "\r\n";
}

// An HTTP/1.0 request of the élu's, as such a client writes it.
std::string http10(const std::string& method, const std::string& target, GatewayProcess& gw,
                   const Session& elu) {
  return method + " " + target + " HTTP/1.0\r\nHost: localhost:" + std::to_string(gw.https_port()) +
         "\r\nCookie: " + elu.cookie + "\r\n\r\n";
}

// The JSON in the middle of a JWT.
boost::json::value jwt_claims(const std::string& jwt) {
  const auto a = jwt.find('.'), b = jwt.find('.', a + 1);
  std::string part = jwt.substr(a + 1, b - a - 1);
  for (auto& c : part) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (part.size() % 4) part += '=';
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0, value = 0;
  for (char c : part) {
    if (c == '=') break;
    value = (value << 6) | static_cast<int>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return boost::json::parse(out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy)

BOOST_AUTO_TEST_CASE(the_identity_goes_as_a_jwt_and_the_session_stays_home) {
  Relay relay("urbanisme");
  GatewayProcess& gw = relay.gw;
  const Session& elu = relay.elu;
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  TestConnection c(gw.https_port());

  BOOST_TEST(c.request("GET", "/api/urbanisme/dossiers")->status == 401);
  BOOST_TEST(c.request("GET", "/api/urbanisme/dossiers", "", {{"Cookie", op.cookie}})->status ==
             403);

  auto r = c.request("GET", "/api/urbanisme/dossiers/a%20b?q=1&q=2", "",
                     {{"Cookie", elu.cookie},
                      {"X-Passerelle-Identity", "forged"},
                      {"X-Forwarded-For", "10.0.0.1"},
                      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  const auto seen = echoed(r);
  BOOST_TEST(seen.at("path").as_string() == "/base/dossiers/a%20b?q=1&q=2");
  const auto& headers = seen.at("headers").as_object();
  BOOST_TEST(!headers.contains("cookie"));
  BOOST_TEST(!headers.contains("x-forwarded-for"));
  BOOST_TEST(!headers.contains("x-passerelle-identity"));
  BOOST_TEST(headers.at("x-request-id").as_string() == r->headers.at("x-request-id"));
  const std::string trace(headers.at("traceparent").as_string());
  BOOST_TEST(trace.substr(0, 36) == "00-0af7651916cd43dd8448eb211c80319c-");
  BOOST_TEST(trace.substr(36, 16) != "b7ad6b7169203331");
  const std::string auth(headers.at("authorization").as_string());
  BOOST_TEST_REQUIRE(auth.rfind("Bearer ", 0) == 0u);
  const auto claims = jwt_claims(auth.substr(7));
  BOOST_TEST(claims.at("aud").as_string() == "urbanisme");
  BOOST_TEST(claims.at("commune_insee").as_string() == "49007");
  BOOST_TEST(claims.at("exp").as_int64() - claims.at("iat").as_int64() == 60);
  // What the upstream answers may not set cookies on the gateway's origin, nor its policies.
  BOOST_TEST(r->headers.count("set-cookie") == 0u);
  BOOST_TEST(r->headers.at("x-upstream") == "echo");
  // Nor cache a user's answer publicly, nor open it to other origins; it runs sandboxed.
  BOOST_TEST(r->headers.at("cache-control") == "no-store");
  BOOST_TEST(r->headers.count("access-control-allow-origin") == 0u);
  // One policy, the sandbox's, whatever the upstream sent (the echo sends its own).
  BOOST_TEST(r->headers.at("content-security-policy") ==
             "sandbox; default-src 'none'; frame-ancestors 'none'");
  BOOST_TEST(r->lines.at("content-security-policy") == 1u);

  // What upstreams trust for the client's address or to route is never the client's to say.
  const auto hostile = echoed(c.request("GET", "/api/urbanisme/x", "",
                                        {{"Cookie", elu.cookie},
                                         {"X-Forwarded-Prefix", "/admin"},
                                         {"X_Forwarded_For", "10.0.0.1"},
                                         {"X-Real-IP", "10.0.0.1"},
                                         {"X-Original-URL", "/admin"},
                                         {"X-Secret", "s"},
                                         {"Connection", "keep-alive, X-Secret"}}))
                           .at("headers")
                           .as_object();
  for (const char* name :
       {"x-forwarded-prefix", "x_forwarded_for", "x-real-ip", "x-original-url", "x-secret"})
    BOOST_TEST(!hostile.contains(name), name);
  // A ';' (or %3B) of the client's is data upstream, never a delimiter ("..;/" is ".." to some).
  BOOST_TEST(echoed(c.request("GET", "/api/urbanisme/..;/x", "", {{"Cookie", elu.cookie}}))
                 .at("path")
                 .as_string() == "/base/..%3B/x");
  BOOST_TEST(echoed(c.request("GET", "/api/urbanisme/a%3Bb", "", {{"Cookie", elu.cookie}}))
                 .at("path")
                 .as_string() == "/base/a%3Bb");
  // A GET with a body (a request smuggled to an upstream that reads none) is refused; so is a
  // script, which would run as the gateway's origin.
  TestConnection smuggler(gw.https_port());
  r = smuggler.request("GET", "/api/urbanisme/x", "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
                       {{"Cookie", elu.cookie}, {"Content-Type", "text/plain"}});
  BOOST_TEST(r->status == 400, r->body);
  r = c.request("GET", "/api/urbanisme/script", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 502, r->body);

  // A new trace without one; the connection to the upstream kept alive and used again.
  const auto first = echoed(c.request("GET", "/api/urbanisme/", "", {{"Cookie", elu.cookie}}));
  BOOST_TEST(std::string(first.at("headers").at("traceparent").as_string()).size() == 55u);
  const auto second = echoed(c.request("GET", "/api/urbanisme", "", {{"Cookie", elu.cookie}}));
  BOOST_TEST(first.at("connection").as_int64() == second.at("connection").as_int64());

  // Writes need the CSRF token, as any route's; the body goes through as it came.
  auto w = elu.write_headers();
  for (auto& [name, value] : w)
    if (name == "Content-Type") value = "text/plain";
  auto posted = echoed(c.request("POST", "/api/urbanisme/dossiers", "permis de construire", w));
  BOOST_TEST(posted.at("body").as_string() == "permis de construire");
  BOOST_TEST(posted.at("method").as_string() == "POST");
  // (Refused before its body is read, the request's connection then closes.)
  TestConnection refused(gw.https_port());
  BOOST_TEST(
      refused.request("POST", "/api/urbanisme/dossiers", "x", {{"Cookie", elu.cookie}})->status ==
      403);
  // The upstream's own errors are its answers.
  BOOST_TEST(c.request("GET", "/api/urbanisme/status/409", "", {{"Cookie", elu.cookie}})->status ==
             409);
  BOOST_TEST(gw.stop(SIGTERM) == 0, gw.log());
}

BOOST_AUTO_TEST_CASE(requests_and_answers_keep_their_framing_across_the_proxy) {
  Relay relay("urbanisme");
  GatewayProcess& gw = relay.gw;
  const Session& elu = relay.elu;

  // A chunked body goes on chunked, as the gateway read it, with no length of the client's.
  TestConnection raw(gw.https_port());
  std::string request = chunked_post("/api/urbanisme/depot", gw, elu);
  for (const std::string piece : {"permis", " de ", "construire"}) {
    std::ostringstream size;
    size << std::hex << piece.size();
    request += size.str() + "\r\n" + piece + "\r\n";
  }
  BOOST_TEST_REQUIRE(raw.send_raw(request + "0\r\n\r\n"));
  const auto posted = echoed(raw.read_reply());
  BOOST_TEST(posted.at("body").as_string() == "permis de construire");
  BOOST_TEST(posted.at("headers").at("transfer-encoding").as_string() == "chunked");
  BOOST_TEST(!posted.at("headers").as_object().contains("content-length"));

  // Interim answers (103 Early Hints) are skipped: the client gets the final one only.
  {
    TestConnection early(gw.https_port());
    const auto r = early.request("GET", "/api/urbanisme/early", "", {{"Cookie", elu.cookie}});
    BOOST_TEST(echoed(r).at("path").as_string() == "/base/early");
    BOOST_TEST(r->headers.count("link") == 0u);
  }
  // An upstream that closes after an interim answer has received the request: on a reused
  // connection that is no stale connection to try again silently (retries: 0 here).
  {
    Relay strict("strict", "      retries: 0\n");
    TestConnection s(strict.gw.https_port());
    const std::vector<std::pair<std::string, std::string>> cookie{{"Cookie", strict.elu.cookie}};
    const auto first = echoed(s.request("GET", "/api/strict/x", "", cookie));
    const auto again = echoed(s.request("GET", "/api/strict/x", "", cookie));  // kept alive
    BOOST_TEST(first.at("connection").as_int64() == again.at("connection").as_int64());
    const auto closed = s.request("GET", "/api/strict/early-close", "", cookie);
    BOOST_TEST(closed->status == 502, closed->body);
    const auto hits = s.request("GET", "/api/strict/hits", "", cookie);
    BOOST_TEST(echoed(hits).at("hits").as_int64() == 1, hits->body << strict.gw.log());
  }
  // An answer that comes in pieces, its head split, is read whole.
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/api/urbanisme/drip", "", {{"Cookie", elu.cookie}});
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200, r->body);
  BOOST_TEST(r->body == "{\"drip\":\"ped\"}\n");
  BOOST_TEST(r->headers.at("x-upstream") == "drip");

  // A kept-alive connection the upstream closed meanwhile (without saying it would) is not
  // used again, for a GET as for a POST (which must not be sent twice).
  auto w = elu.write_headers();
  for (int i = 0; i < 3; ++i) {
    const auto closing =
        echoed(c.request("GET", "/api/urbanisme/close", "", {{"Cookie", elu.cookie}}));
    const auto after = echoed(c.request("GET", "/api/urbanisme/x", "", {{"Cookie", elu.cookie}}));
    BOOST_TEST(after.at("connection").as_int64() != closing.at("connection").as_int64());
    const auto closing_again =
        echoed(c.request("GET", "/api/urbanisme/close", "", {{"Cookie", elu.cookie}}));
    const auto written = echoed(c.request("POST", "/api/urbanisme/x", "{}", w));
    BOOST_TEST(written.at("method").as_string() == "POST");
    BOOST_TEST(written.at("connection").as_int64() != closing_again.at("connection").as_int64());
  }
  // An answer the upstream sends unasked on a kept-alive connection is nobody's: that
  // connection is dropped, never read for the next caller.
  for (const char* path :
       {"/api/urbanisme/smuggle", "/api/urbanisme/smuggle/0", "/api/urbanisme/smuggle/100"}) {
    echoed(c.request("GET", path, "", {{"Cookie", elu.cookie}}));
    std::this_thread::sleep_for(200ms);  // the unasked answer has arrived
    const auto next = c.request("GET", "/api/urbanisme/x", "", {{"Cookie", elu.cookie}});
    BOOST_TEST(next->body.find("smuggled") == std::string::npos, next->body);
    BOOST_TEST(echoed(next).at("path").as_string() == "/base/x");
  }
  // Neither is an upstream failure.
  BOOST_TEST(gw.log().find("trying again") == std::string::npos, gw.log());
  BOOST_TEST(gw.stop(SIGTERM) == 0, gw.log());
}

BOOST_AUTO_TEST_CASE(a_slow_down_or_talkative_upstream_is_a_clear_error_on_its_routes_only) {
  EchoUpstream upstream;
  const std::string down = "http://127.0.0.1:" + std::to_string(free_port());
  GatewayProcess gw("demo: true\nplugins:\n" +
                    proxy_entry("lent", upstream.url(),
                                "      response_timeout: 1s\n      max_response_bytes: 100000\n"
                                "      stream_timeout: 1s\n") +
                    proxy_entry("absent", down, "      retries: 2\n"));
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session elu = login(gw, "elu.angers", "passerelle-demo");

  // While one request waits on the slow upstream, the rest of the gateway answers.
  auto slow = std::async(std::launch::async, [&] {
    TestConnection c(gw.https_port());
    return c.request("GET", "/api/lent/slow/5", "", {{"Cookie", elu.cookie}});
  });
  TestConnection c(gw.https_port());
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  BOOST_TEST(c.request("GET", "/api/lent/x", "", {{"Cookie", elu.cookie}})->status == 200);
  auto r = slow.get();
  BOOST_TEST(r->status == 504, r->body);
  BOOST_TEST(r->body.find("\"upstream_timeout\"") != std::string::npos, r->body);

  r = c.request("GET", "/api/lent/big/200000", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 502, r->body);
  BOOST_TEST(c.request("GET", "/api/lent/big/50000", "", {{"Cookie", elu.cookie}})->body.size() ==
             50000u);

  // A client that drips its body, each piece within body_timeout, is cut off at stream_timeout:
  // a proxied route has no other deadline (its own timeouts bound every wait).
  TestConnection drip(gw.https_port());
  BOOST_TEST_REQUIRE(drip.send_raw(chunked_post("/api/lent/depot", gw, elu)));
  for (int i = 0; i < 10 && drip.send_raw("1\r\nx\r\n"); ++i) std::this_thread::sleep_for(300ms);
  r = drip.read_reply();
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 408, r->body);

  r = c.request("GET", "/api/absent/x", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 502, r->body);
  BOOST_TEST(r->body.find("the service absent is unreachable") != std::string::npos, r->body);
  // GET is tried three times (retries: 2); a POST once, since it may have been received.
  BOOST_TEST(gw.wait_for_log_times("trying again", 2), gw.log());
  BOOST_TEST(gw.stop(SIGTERM) == 0, gw.log());
}

BOOST_AUTO_TEST_CASE(an_https_upstream_is_verified_kept_alive_and_bounded_in_time) {
  EchoUpstream upstream(/*tls=*/true);
  MuteListener mute;
  const std::string trust = "      ca_file: " + test_certs().ca + "\n";
  GatewayProcess gw("demo: true\nplugins:\n" +
                    proxy_entry("chiffre", upstream.url(), trust + "      response_timeout: 1s\n") +
                    // Connected, then not a byte of the TLS handshake in return.
                    proxy_entry("muet",
                                "https://localhost:" + std::to_string(mute.port()) + "/base",
                                trust + "      connect_timeout: 1s\n      retries: 0\n") +
                    // The system's CAs do not know the test CA.
                    proxy_entry("inconnu", upstream.url(), "      retries: 0\n"));
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session elu = login(gw, "elu.angers", "passerelle-demo");
  TestConnection c(gw.https_port());

  // Verified (the test CA, the name localhost), and the connection kept for the next request.
  const auto first =
      echoed(c.request("GET", "/api/chiffre/dossiers?commune=49007", "", {{"Cookie", elu.cookie}}));
  BOOST_TEST(first.at("path").as_string() == "/base/dossiers?commune=49007");
  const auto second = echoed(
      c.request("POST", "/api/chiffre/dossiers", R"({"objet":"permis"})", elu.write_headers()));
  BOOST_TEST(second.at("body").as_string() == R"({"objet":"permis"})");
  BOOST_TEST(first.at("connection").as_int64() == second.at("connection").as_int64());

  // Each wait has its bound: the answer (response_timeout: before the upstream's 5 s), the
  // handshake (connect_timeout: it would never end).
  auto r = c.request("GET", "/api/chiffre/slow/5", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 504, r->body);
  r = c.request("GET", "/api/muet/x", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 504, r->body);
  BOOST_TEST(r->body.find("\"upstream_timeout\"") != std::string::npos, r->body);

  // An upstream whose certificate is not trusted is unreachable, not relayed.
  r = c.request("GET", "/api/inconnu/x", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 502, r->body);
  BOOST_TEST(r->body.find("\"upstream_unavailable\"") != std::string::npos, r->body);
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  BOOST_TEST(gw.stop(SIGTERM) == 0, gw.log());
}

BOOST_AUTO_TEST_CASE(large_bodies_stream_both_ways) {
  Relay relay("fichiers");
  GatewayProcess& gw = relay.gw;
  const Session& elu = relay.elu;
  TestConnection c(gw.https_port());
  // Past the server's body limit (1 MiB): a proxied route reads its body as it comes.
  const std::string three_mib(3 * 1024 * 1024, 'p');
  auto w = elu.write_headers();
  for (auto& [name, value] : w)
    if (name == "Content-Type") value = "application/octet-stream";
  auto r = c.request("POST", "/api/fichiers/depot", three_mib, w);
  BOOST_TEST_REQUIRE(r->status == 200, r->body.substr(0, 300));
  BOOST_TEST(boost::json::parse(r->body).at("body").as_string().size() == three_mib.size());
  r = c.request("GET", "/api/fichiers/big/5000000", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->body.size() == 5000000u);
  BOOST_TEST(r->body.find_first_not_of('x') == std::string::npos);
  // An answer of unknown length goes on chunked to an HTTP/1.1 client; an HTTP/1.0 client, who
  // knows no chunks, gets it until the connection closes.
  r = c.request("GET", "/api/fichiers/eof/100000", "", {{"Cookie", elu.cookie}});
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->headers.at("transfer-encoding") == "chunked");
  BOOST_TEST(r->body == std::string(100000, 'e'));
  TestConnection old_client(gw.https_port());
  BOOST_TEST_REQUIRE(old_client.send_raw(http10("GET", "/api/fichiers/eof/100000", gw, elu)));
  r = old_client.read_reply();
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->headers.count("transfer-encoding") == 0u);
  BOOST_TEST(r->headers.count("content-length") == 0u);
  BOOST_TEST(r->headers.at("connection") == "close");
  BOOST_TEST(r->body == std::string(100000, 'e'));
  BOOST_TEST(old_client.wait_closed(5s));
  // Cut short by the upstream, such an answer ends with a reset, not a clean close: the HTTP/1.0
  // client sees it cut, never whole.
  TestConnection cut_client(gw.https_port());
  BOOST_TEST_REQUIRE(cut_client.send_raw(http10("GET", "/api/fichiers/cut", gw, elu)));
  BOOST_TEST(!cut_client.read_reply().has_value());
  // A HEAD of it gets the head a GET would: neither length nor chunks.
  TestConnection head_client(gw.https_port());
  BOOST_TEST_REQUIRE(head_client.send_raw(http10("HEAD", "/api/fichiers/eof/10", gw, elu)));
  r = head_client.read_reply(true);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->headers.count("transfer-encoding") == 0u);
  // An upstream that hangs up before the length it announced: the answer is cut short and the
  // connection closed, never passed off as whole.
  TestConnection other(gw.https_port());
  r = other.request("GET", "/api/fichiers/lie/100000", "", {{"Cookie", elu.cookie}});
  BOOST_TEST((!r || r->body.size() < 100000u));
  BOOST_TEST(gw.wait_for_log("a streamed answer failed"), gw.log());
  // The gateway goes on.
  BOOST_TEST(c.request("GET", "/api/fichiers/x", "", {{"Cookie", elu.cookie}})->status == 200);
  BOOST_TEST(gw.stop(SIGTERM) == 0, gw.log());
}

BOOST_AUTO_TEST_CASE(operators_add_a_proxied_service_at_runtime) {
  EchoUpstream upstream;
  {  // Without proxy_upstreams, services are relayed from the config file only.
    GatewayProcess closed("demo: true\n");
    BOOST_REQUIRE_MESSAGE(closed.wait_for_log("\"msg\":\"ready\""), closed.log());
    const Session op = login(closed, "operateur.demo", "passerelle-demo");
    TestConnection c(closed.https_port());
    auto r = c.request(
        "POST", "/admin/plugins",
        R"({"name":"carto","kind":"proxy","config":{"upstream":")" + upstream.url() + R"("}})",
        op.write_headers());
    BOOST_TEST(r->status == 409, r->body);
  }
  GatewayProcess gw("demo: true\nproxy_upstreams: [\"http://127.0.0.1\"]\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  const Session agent = login(gw, "agent.tuffalun", "passerelle-demo");
  TestConnection c(gw.https_port());
  // Only to those origins, and without the keys only the file may set.
  for (const std::string& config : std::vector<std::string>{
           R"({"upstream":"http://127.0.0.1.example.net/x"})",
           R"({"upstream":"http://169.254.169.254/latest"})",
           R"({"upstream":")" + upstream.url() + R"(","audience":"urbanisme"})",
           R"({"upstream":")" + upstream.url() + R"(","ca_file":"/etc/shadow"})"}) {
    auto refused =
        c.request("POST", "/admin/plugins",
                  R"({"name":"carto","kind":"proxy","config":)" + config + "}", op.write_headers());
    BOOST_TEST(refused->status == 422, config << " " << refused->body);
  }
  auto r = c.request("POST", "/admin/plugins",
                     R"({"name":"carto","kind":"proxy","config":{"upstream":"ftp://x"}})",
                     op.write_headers());
  BOOST_TEST(r->status == 422, r->body);
  r = c.request("POST", "/admin/plugins",
                R"({"name":"carto","kind":"proxy","library":"libpasserelle-hello.so",)"
                R"("config":{"upstream":")" +
                    upstream.url() + R"("}})",
                op.write_headers());
  BOOST_TEST(r->status == 422, r->body);
  r = c.request("POST", "/admin/plugins",
                R"({"name":"carto","kind":"proxy","config":{"upstream":")" + upstream.url() +
                    R"(","roles":["agent"]}})",
                op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  BOOST_TEST(echoed(c.request("GET", "/api/carto/couches", "", {{"Cookie", agent.cookie}}))
                 .at("path")
                 .as_string() == "/base/couches");
  r = c.request("GET", "/admin/plugins", "", {{"Cookie", op.cookie}});
  BOOST_TEST(r->body.find(R"("library":"proxy")") != std::string::npos, r->body);
  BOOST_TEST(c.request("DELETE", "/admin/plugins/carto", "", op.write_headers())->status == 204);
  BOOST_TEST(c.request("GET", "/api/carto/couches", "", {{"Cookie", agent.cookie}})->status == 404);
  BOOST_TEST(gw.stop(SIGTERM) == 0, gw.log());
}

BOOST_AUTO_TEST_SUITE_END()
