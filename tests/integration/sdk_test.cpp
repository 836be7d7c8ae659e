// A plugin built elsewhere: the SDK installed into a temporary prefix, a plugin scaffolded by
// tools/new-plugin, built and tested against that prefix alone, then loaded into a running
// gateway through the admin API and used.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/temp_dir.hpp"

#include "passerelle/version.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace passerelle::test;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `script` with sh, bounded to 15 minutes; its output goes to `log`.
int shell(const std::string& script, const std::string& log) {
  const std::string command = "timeout 900 sh -c '" + script + "' >'" + log + "' 2>&1 </dev/null";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sdk)

BOOST_AUTO_TEST_CASE(a_plugin_scaffolded_and_built_elsewhere_is_loaded_at_runtime) {
  TempDir tmp;
  const std::string t = tmp.path();
  // The compiler cache finds the same objects again whatever the temporary folder's name.
  const std::string script =
      "set -ex; export CCACHE_BASEDIR=" + t + " CCACHE_NOHASHDIR=1; " +
      "cmake --install " PASSERELLE_BINARY_DIR " --component sdk --prefix " + t + "/prefix; " +
      PASSERELLE_SOURCE_DIR "/tools/new-plugin carnet " + t + "/src; " + "cmake -S " + t +
      "/src -B " + t + "/build -G Ninja -DCMAKE_PREFIX_PATH=" + t + "/prefix; cmake --build " + t +
      "/build; ctest --test-dir " + t + "/build --output-on-failure";
  const std::string log = t + "/build.log";
  BOOST_TEST_REQUIRE(shell(script, log) == 0, read_file(log));

  // What was installed: the headers with the ABI hash this gateway checks.
  BOOST_TEST(read_file(t + "/prefix/include/passerelle/abi.hpp").find(passerelle::kAbi) !=
             std::string::npos);
  BOOST_TEST(std::filesystem::exists(t + "/prefix/include/passerelle/testing.hpp"));
  BOOST_TEST(std::filesystem::exists(t + "/prefix/lib/cmake/Passerelle/PasserelleConfig.cmake"));
  // Nothing of the gateway's network or TLS stack is behind the SDK's headers.
  for (const auto& entry : std::filesystem::directory_iterator(t + "/prefix/include/passerelle")) {
    const std::string text = read_file(entry.path().string());
    BOOST_TEST(text.find("boost/beast") == std::string::npos, entry.path());
    BOOST_TEST(text.find("openssl/") == std::string::npos, entry.path());
  }

  std::filesystem::create_directories(t + "/plugins");
  std::filesystem::copy_file(t + "/build/modules/libpasserelle-carnet.so",
                             t + "/plugins/libpasserelle-carnet.so");
  GatewayProcess gw("demo: true\nplugin_dir: " + t + "/plugins\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  const Session elu = login(gw, "elu.angers", "passerelle-demo");
  TestConnection c(gw.https_port());
  BOOST_TEST(c.request("GET", "/api/carnet/notes", "", {{"Cookie", elu.cookie}})->status == 404);

  auto r = c.request("POST", "/admin/plugins",
                     R"({"name":"carnet","library":"libpasserelle-carnet.so",)"
                     R"("config":{"title":"Carnet de la mairie"}})",
                     op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body << gw.log());
  r = c.request("POST", "/api/carnet/notes", R"({"text":"Conseil municipal mardi"})",
                elu.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  r = c.request("GET", "/api/carnet/notes", "", {{"Cookie", elu.cookie}});
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  BOOST_TEST(boost::json::parse(r->body).at("notes").at(0).at("text").as_string() ==
             "Conseil municipal mardi");
  // Authorization is the gateway's, before the plugin runs.
  BOOST_TEST(c.request("GET", "/api/carnet/notes")->status == 401);
  r = c.request("GET", "/api/dashboard", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->body.find("Carnet de la mairie") != std::string::npos, r->body);
  r = c.request("GET", "/admin/plugins", "", {{"Cookie", op.cookie}});
  BOOST_TEST(r->body.find(R"("name":"carnet")") != std::string::npos, r->body);
  BOOST_TEST(gw.stop(SIGTERM) == 0, gw.log());
}

BOOST_AUTO_TEST_SUITE_END()
