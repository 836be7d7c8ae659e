// passerelle --check-config and start-up refusals: one clear line, the right exit code.
#include "passerelle/version.hpp"
#include "support/gateway_process.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle::test;

namespace {
std::string base(const TempDir& dir) {
  return "tls:\n  certificate: " + test_certs().cert + "\n  private_key: " + test_certs().key +
         "\nstore:\n  sqlite: " + dir.path() +
         "/db.sqlite\nserver:\n  https_port: 0\n  http_port: 0\n";
}
}  // namespace

BOOST_AUTO_TEST_SUITE(config_cli)

BOOST_AUTO_TEST_CASE(valid_config_exits_0) {
  TempDir dir;
  const std::string file = dir.write(
      "ok.yaml", base(dir) + "plugins:\n  - name: hello\n    library: " + module("hello") + "\n");
  const auto r = run_passerelle({"--check-config", file});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.output == file + ": valid\n");
}

BOOST_AUTO_TEST_CASE(invalid_config_exits_2_with_file_line_col) {
  TempDir dir;
  const std::string file = dir.write("bad.yaml", base(dir) + "  workrs: 4\n");
  const auto r = run_passerelle({"--check-config", file});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.output == file + ":9:3: unknown key \"workrs\"\n");
  const auto serve = run_passerelle({"--config", file});
  BOOST_TEST(serve.exit_code == 2);
  BOOST_TEST(serve.output == file + ":9:3: unknown key \"workrs\"\n");
}

BOOST_AUTO_TEST_CASE(bad_plugin_exits_2_naming_the_library) {
  TempDir dir;
  const std::string file = dir.write(
      "p.yaml", base(dir) + "plugins:\n  - name: x\n    library: " + module("bad_abi") + "\n");
  const auto r = run_passerelle({"--check-config", file});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.output == file + ":10:5: plugin library " + module("bad_abi") +
                             ": ABI 0000000000000000 instead of " + passerelle::kAbi +
                             " (rebuild it against this gateway's SDK)\n");
}

BOOST_AUTO_TEST_CASE(missing_certificate_is_one_line) {
  TempDir dir;
  const std::string file =
      dir.write("p.yaml", "tls:\n  certificate: /nonexistent/c.pem\n  private_key: k.pem\n");
  const auto r = run_passerelle({"--config", file});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.rfind("passerelle: TLS certificate /nonexistent/c.pem:", 0) == 0u, r.output);
}

BOOST_AUTO_TEST_CASE(a_port_in_use_stops_the_start) {
  GatewayProcess running;
  TempDir dir;
  const std::string file = dir.write(
      "p.yaml", "tls:\n  certificate: " + test_certs().cert +
                    "\n  private_key: " + test_certs().key + "\nstore:\n  sqlite: " + dir.path() +
                    "/db.sqlite\nserver:\n  https_port: " + std::to_string(running.https_port()) +
                    "\n  redirect_http: false\n");
  const auto r = run_passerelle({"--config", file});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find(
                 "passerelle: cannot listen on 127.0.0.1:" + std::to_string(running.https_port()) +
                 ": Address already in use") != std::string::npos,
             r.output);
}

BOOST_AUTO_TEST_SUITE_END()
