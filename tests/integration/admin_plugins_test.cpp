// The operators' runtime controls through the real binary: a plugin upgraded, removed and added
// again ten times under a steady load loses no request (only the 404s of its absence); what may
// be loaded is a file of the plugin directory and nothing else; every change is audit-logged.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

using namespace passerelle::test;

namespace {

// GET /api/hello in a loop on one keep-alive connection until told to stop (at most 2 minutes),
// counting the answers by status; 0 for a request that got no answer.
class Load {
 public:
  explicit Load(std::uint16_t port) {
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this, port] {
        auto c = std::make_unique<TestConnection>(port);
        const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
        while (!stop_ && std::chrono::steady_clock::now() < until) {
          auto r = c->request("GET", "/api/hello");
          const std::lock_guard lock(mutex_);
          ++counts_[r ? r->status : 0];
          if (!r) c = std::make_unique<TestConnection>(port);
        }
      });
  }
  std::map<int, int> finish() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    return counts_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<int, int> counts_;
  std::vector<std::thread> threads_;
};

// The config of a demo gateway running `plugin`, whose plugin_dir is the folder of the built
// plugins.
std::string with_plugin_dir(const std::string& plugin) {
  const std::string dir = std::filesystem::path(module(plugin)).parent_path().string();
  return "demo: true\nplugin_dir: " + dir + "\nplugins:\n  - name: " + plugin +
         "\n    library: " + module(plugin) + "\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(admin_plugins)

BOOST_AUTO_TEST_CASE(upgraded_removed_and_added_again_under_load_without_losing_a_request) {
  GatewayProcess gw(with_plugin_dir("hello"));
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  const Session elu = login(gw, "elu.angers", "passerelle-demo");
  TestConnection c(gw.https_port());

  auto r = c.request("GET", "/admin/plugins", "", {{"Cookie", op.cookie}});
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  const auto listed = boost::json::parse(r->body).at("plugins").at(0);
  BOOST_TEST(listed.at("name").as_string() == "hello");
  BOOST_TEST(listed.at("sha256").as_string().size() == 64u);
  BOOST_TEST(listed.at("state").as_string() == "running");
  BOOST_TEST(c.request("GET", "/admin/plugins", "", {{"Cookie", elu.cookie}})->status == 403);
  BOOST_TEST(c.request("GET", "/admin/plugins")->status == 401);

  Load load(gw.https_port());
  const std::string add =
      R"({"name":"hello","library":"libpasserelle-hello.so","config":{"greeting":"Re-bonjour"}})";
  for (int i = 0; i < 10; ++i) {
    r = c.request("POST", "/admin/plugins/hello/reload", "{}", op.write_headers());
    BOOST_TEST_REQUIRE(r->status == 200, r->body);
    r = c.request("DELETE", "/admin/plugins/hello", "", op.write_headers());
    BOOST_TEST_REQUIRE(r->status == 204, r->body);
    BOOST_TEST(c.request("GET", "/api/hello")->status == 404);
    r = c.request("POST", "/admin/plugins", add, op.write_headers());
    BOOST_TEST_REQUIRE(r->status == 201, r->body);
  }
  const auto counts = load.finish();
  int answered = 0;
  for (const auto& [status, n] : counts) {
    BOOST_TEST((status == 200 || status == 404), "status " << status << " × " << n);
    answered += n;
  }
  BOOST_TEST(counts.count(200) == 1u);
  BOOST_TEST_MESSAGE("requests during the changes: " << answered);
  // The config given with the last addition is the one in use.
  r = c.request("GET", "/api/hello");
  BOOST_TEST(r->body.find("Re-bonjour") != std::string::npos, r->body);
  BOOST_TEST(gw.wait_for_log("\"msg\":\"plugin reloaded\""), gw.log());
  BOOST_TEST(gw.log().find("\"msg\":\"plugin removed\"") != std::string::npos);
  BOOST_TEST(gw.log().find("drained and stopped") != std::string::npos);
  // A clean exit (under AddressSanitizer: no error, no leak, which would change the code).
  BOOST_TEST(gw.stop(SIGTERM, std::chrono::seconds(60)) == 0, gw.log());
}

BOOST_AUTO_TEST_CASE(only_files_of_the_plugin_directory_are_loaded) {
  GatewayProcess gw(with_plugin_dir("hello"));
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  const Session elu = login(gw, "elu.angers", "passerelle-demo");
  TestConnection c(gw.https_port());
  const auto post = [&](const std::string& body) {
    return c.request("POST", "/admin/plugins", body, op.write_headers())->status;
  };
  BOOST_TEST(post(R"({"name":"x","library":"../modules/libpasserelle-hello.so"})") == 422);
  BOOST_TEST(post(R"({"name":"x","library":"/etc/passwd"})") == 422);
  BOOST_TEST(post(R"({"name":"x","library":"libpasserelle-none.so"})") == 422);
  BOOST_TEST(post(R"({"name":"hello","library":"libpasserelle-hello.so"})") == 409);
  // The library's own name must be the one asked.
  BOOST_TEST(post(R"({"name":"other","library":"libpasserelle-hello.so"})") == 422);
  // A config the plugin's schema refuses, with the reason.
  auto r = c.request("POST", "/admin/plugins",
                     R"({"name":"faulty","library":"libpasserelle-faulty.so","config":{"nope":1}})",
                     op.write_headers());
  BOOST_TEST(r->status == 422);
  BOOST_TEST(r->body.find("nope") != std::string::npos, r->body);
  // Added, then a start that fails is refused and leaves nothing routed.
  BOOST_TEST(
      post(
          R"({"name":"faulty","library":"libpasserelle-faulty.so","config":{"fail_start":true}})") ==
      422);
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 404);
  BOOST_TEST(post(R"({"name":"faulty","library":"libpasserelle-faulty.so"})") == 201);
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 200);
  BOOST_TEST(c.request("POST", "/admin/plugins/nobody/reload", "{}", op.write_headers())->status ==
             404);
  BOOST_TEST(c.request("DELETE", "/admin/plugins/nobody", "", op.write_headers())->status == 404);
  // Operators only, with the session's CSRF token.
  BOOST_TEST(c.request("DELETE", "/admin/plugins/faulty", "", elu.write_headers())->status == 403);
  BOOST_TEST(c.request("DELETE", "/admin/plugins/faulty", "", {{"Cookie", op.cookie}})->status ==
             403);
}

// POST /admin/reload and SIGHUP read the config file again and apply its plugins: additions,
// removals, changed entries; a file refused leaves everything as it runs, and says where.
BOOST_AUTO_TEST_CASE(the_config_file_read_again_applies_its_plugins) {
  const std::string hello = "plugins:\n  - name: hello\n    library: " + module("hello") +
                            "\n    config:\n      greeting: Un\n";
  GatewayProcess gw("demo: true\n" + hello);
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  TestConnection c(gw.https_port());
  const auto read = [&] {
    std::ifstream in(gw.config_path());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const auto write = [&](const std::string& text) { std::ofstream(gw.config_path()) << text; };
  const std::string original = read();
  std::string next = original;
  next.replace(next.find("greeting: Un"), 12, "greeting: Deux");
  // The entries go at the end of the plugins' list, before the store section that follows it.
  const auto with = [](std::string text, const std::string& entry) {
    return text.insert(text.find("store:"), entry);
  };
  write(with(next, "  - name: faulty\n    library: " + module("faulty") + "\n"));
  auto r = c.request("POST", "/admin/reload", "{}", op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  const auto done = boost::json::parse(r->body);
  BOOST_TEST(done.at("added").at(0).as_string() == "faulty");
  BOOST_TEST(done.at("reloaded").at(0).as_string() == "hello");
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 200);
  BOOST_TEST(c.request("GET", "/api/hello")->body.find("Deux") != std::string::npos);
  // Nothing changed: nothing done.
  r = c.request("POST", "/admin/reload", "{}", op.write_headers());
  BOOST_TEST(boost::json::parse(r->body).at("reloaded").as_array().empty(), r->body);
  // A file refused: 422 naming the place, and everything as it runs.
  write(with(original, "  - name: broken\n    libary: x.so\n"));
  r = c.request("POST", "/admin/reload", "{}", op.write_headers());
  BOOST_TEST(r->status == 422);
  BOOST_TEST(r->body.find("passerelle.yaml:") != std::string::npos, r->body);
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 200);
  // SIGHUP: the file without faulty removes it.
  write(original);
  kill(gw.pid(), SIGHUP);
  BOOST_TEST(gw.wait_for_log("\"actor\":\"SIGHUP\""), gw.log());
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 404);
  BOOST_TEST(c.request("GET", "/api/hello")->body.find("Un") != std::string::npos);
}

// `passerelle ctl`, with an operator's API token from the environment (never an argument).
BOOST_AUTO_TEST_CASE(ctl_drives_the_admin_api_with_a_token) {
  GatewayProcess gw(with_plugin_dir("hello"));
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const auto made = run_passerelle({"--config", gw.config_path(), "tokens", "create", "--user",
                                    "operateur.demo", "--name", "ctl"});
  BOOST_TEST_REQUIRE(made.exit_code == 0, made.output);
  const std::string token = made.output.substr(0, made.output.find('\n'));
  setenv("PASSERELLE_URL", ("https://localhost:" + std::to_string(gw.https_port())).c_str(), 1);
  setenv("PASSERELLE_CA_FILE", test_certs().ca.c_str(), 1);
  const auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", gw.config_path(), "ctl"});
    return run_passerelle(args);
  };
  // No token: told how to make one, nothing sent.
  unsetenv("PASSERELLE_TOKEN");
  auto r = ctl({"plugins"});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(r.output.find("tokens create") != std::string::npos, r.output);
  BOOST_TEST(ctl({"health"}).exit_code == 0);
  setenv("PASSERELLE_TOKEN", token.c_str(), 1);
  r = ctl({"plugins"});
  BOOST_TEST(r.exit_code == 0, r.output);
  BOOST_TEST(r.output.find("\"sha256\"") != std::string::npos, r.output);
  BOOST_TEST(ctl({"load", "faulty", "libpasserelle-faulty.so"}).exit_code == 0);
  BOOST_TEST(ctl({"reload", "faulty"}).exit_code == 0);
  BOOST_TEST(ctl({"remove", "faulty"}).exit_code == 0);
  r = ctl({"remove", "faulty"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("404") != std::string::npos, r.output);
  BOOST_TEST(ctl({"reload-config"}).exit_code == 0);
  BOOST_TEST(ctl({"remove", "../x"}).exit_code == 64);
  BOOST_TEST(ctl({"frobnicate"}).exit_code == 64);
  // A token that is not an operator's is refused by the gateway.
  setenv("PASSERELLE_TOKEN", "not-a-token", 1);
  BOOST_TEST(ctl({"plugins"}).exit_code == 1);
  unsetenv("PASSERELLE_TOKEN");
  unsetenv("PASSERELLE_URL");
  unsetenv("PASSERELLE_CA_FILE");
  BOOST_TEST(gw.wait_for_log("\"msg\":\"plugin removed\""), gw.log());
}

// A plugin removed while a request outlives the grace period is not stopped under it: listed as
// draining, its name cannot be added again until that request ends; then it is stopped.
BOOST_AUTO_TEST_CASE(a_plugin_still_serving_is_stopped_only_when_its_last_request_ends) {
  GatewayProcess gw(with_plugin_dir("faulty"), "  shutdown_grace: 1s\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  TestConnection slow(gw.https_port()), c(gw.https_port());
  slow.send_raw("GET /api/faulty/slow?ms=3000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  BOOST_TEST_REQUIRE(gw.wait_for_log("slow request started"));
  auto r = c.request("DELETE", "/admin/plugins/faulty", "", op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 204, r->body);  // after the grace period
  BOOST_TEST(gw.log().find("drained and stopped") == std::string::npos);
  r = c.request("GET", "/admin/plugins", "", {{"Cookie", op.cookie}});
  BOOST_TEST(r->body.find("\"state\":\"draining\"") != std::string::npos, r->body);
  const std::string add = R"({"name":"faulty","library":"libpasserelle-faulty.so"})";
  r = c.request("POST", "/admin/plugins", add, op.write_headers());
  BOOST_TEST(r->status == 409, r->body);
  // The request ends as it should; then the plugin is stopped, and may come back.
  BOOST_TEST(slow.read_reply()->status == 200);
  BOOST_TEST(gw.wait_for_log("drained and stopped"), gw.log());
  BOOST_TEST(c.request("POST", "/admin/plugins", add, op.write_headers())->status == 201);
  BOOST_TEST(gw.log().find("\"msg\":\"plugin added (refused)\"") != std::string::npos);
}

// /metrics: the plugins' starts, failures and stops, what each serves now, the TLS handshakes
// and the sessions in memory; for operators, or the scrapers' configured addresses.
BOOST_AUTO_TEST_CASE(metrics_tell_the_plugins_life_to_operators_and_scrapers) {
  GatewayProcess gw(with_plugin_dir("hello"),
                    "  shutdown_grace: 5s\n  metrics_from: [127.0.0.1]\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  TestConnection c(gw.https_port());
  BOOST_TEST(c.request("POST", "/admin/plugins/hello/reload", "{}", op.write_headers())->status ==
             200);
  BOOST_TEST(
      c.request(
           "POST", "/admin/plugins",
           R"({"name":"faulty","library":"libpasserelle-faulty.so","config":{"fail_start":true}})",
           op.write_headers())
          ->status == 422);
  auto r = c.request("GET", "/metrics");  // anonymous, from 127.0.0.1: a configured scraper
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  for (const char* line :
       {"passerelle_plugin_starts_total{plugin=\"hello\"} 2",
        "passerelle_plugin_stops_total{plugin=\"hello\"} 1",
        "passerelle_plugin_failures_total{plugin=\"faulty\"} 1",
        "passerelle_plugin_in_flight{plugin=\"hello\"} 0", "passerelle_plugins_draining 0",
        "passerelle_tls_handshakes_total{result=\"ok\"}", "passerelle_sessions_cached"})
    BOOST_TEST(r->body.find(line) != std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(metrics_are_refused_to_others) {
  GatewayProcess gw("demo: true\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  TestConnection c(gw.https_port());
  BOOST_TEST(c.request("GET", "/metrics")->status == 401);
  const Session elu = login(gw, "elu.angers", "passerelle-demo");
  BOOST_TEST(c.request("GET", "/metrics", "", {{"Cookie", elu.cookie}})->status == 403);
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  BOOST_TEST(c.request("GET", "/metrics", "", {{"Cookie", op.cookie}})->status == 200);
}

BOOST_AUTO_TEST_CASE(a_plugin_whose_stop_hangs_is_left_running_and_nothing_waits_for_it) {
  GatewayProcess gw(with_plugin_dir("faulty") + "    config:\n      hang_on_stop: true\n",
                    "  shutdown_grace: 1s\n  plugin_stop_timeout: 1s\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  TestConnection c(gw.https_port());
  // The removal answers once stop() had its second: the plugin is gone from the routes.
  auto r = c.request("DELETE", "/admin/plugins/faulty", "", op.write_headers());
  BOOST_TEST(r->status == 204, r->body);
  BOOST_TEST(gw.wait_for_log("did not end in time"), gw.log());
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 404);
  // The controls go on: the same plugin added again, then the gateway stops cleanly.
  r = c.request("POST", "/admin/plugins",
                R"({"name":"faulty","library":"libpasserelle-faulty.so","config":{}})",
                op.write_headers());
  BOOST_TEST(r->status == 201, r->body);
  BOOST_TEST(c.request("GET", "/api/faulty/ok")->status == 200);
  BOOST_TEST(gw.stop(SIGTERM, std::chrono::seconds(20)) == 0, gw.log());
  // Nor does the shutdown wait for it.
  GatewayProcess hung(with_plugin_dir("faulty") + "    config:\n      hang_on_stop: true\n",
                      "  shutdown_grace: 1s\n  plugin_stop_timeout: 1s\n");
  BOOST_REQUIRE_MESSAGE(hung.wait_for_log("\"msg\":\"ready\""), hung.log());
  BOOST_TEST(hung.stop(SIGTERM, std::chrono::seconds(20)) == 0, hung.log());
  BOOST_TEST(hung.log().find("did not end in time") != std::string::npos, hung.log());
}

BOOST_AUTO_TEST_SUITE_END()
